//! The threads that do the share's file I/O: [`MAX_FILE_OPS`] of them for the whole process, started on first
//! use and named [`THREAD_NAME`], taking jobs from one queue.
//!
//! A guest opens connections and sends requests at will, so neither may set the thread count. Tokio's
//! `block_in_place` (which the share once used) hands the worker's other tasks to a new thread of the blocking
//! pool on every call, and `spawn_blocking` starts a new thread whenever none is idle at that instant: 96
//! uploads trickling in at once grew the process to Tokio's limit of 512 blocking threads, and even with a
//! semaphore of 8 around `spawn_blocking` to about 40. A fixed pool makes the bound exact. A job that waits
//! for its turn holds no thread; the queue holds at most one job per waiting request.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

/// Threads doing file I/O, at most (and so blocking file operations at once).
pub const MAX_FILE_OPS: usize = 8;

/// The name of those threads (at most 15 bytes, the kernel's `comm`).
pub const THREAD_NAME: &str = "ryll-share-io";

type Job = Box<dyn FnOnce() + Send>;

/// Where jobs go; `None` if no thread could be started (then jobs run inline, see [`run`]).
static QUEUE: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();

fn start() -> Option<Mutex<Sender<Job>>> {
    let (tx, rx) = channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    for i in 0..MAX_FILE_OPS {
        let rx = Arc::clone(&rx);
        match std::thread::Builder::new().name(THREAD_NAME.into()).spawn(move || serve(&rx)) {
            Ok(_) => started += 1,
            Err(e) => tracing::error!("cannot start file I/O thread {i}: {e}"),
        }
    }
    (started > 0).then(|| Mutex::new(tx))
}

fn serve(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        // A panicking job drops its answer channel (its caller sees an error); the thread stays.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

/// Runs `f` on one of the pool's threads and waits for it without holding a thread; `None` if it panicked.
/// Inline if the pool has no thread (none could be started).
pub async fn run<F, T>(f: F) -> Option<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let Some(queue) = QUEUE.get_or_init(start) else {
        return Some(f());
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    if queue.lock().unwrap_or_else(|e| e.into_inner()).send(job).is_err() {
        return None;
    }
    rx.await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_pool_and_a_panic_costs_only_its_job() {
        let name = run(|| std::thread::current().name().map(str::to_owned)).await;
        assert_eq!(name.flatten().as_deref(), Some(THREAD_NAME));
        assert_eq!(run(|| -> u32 { panic!("a failing job") }).await, None);
        let all = futures_util::future::join_all((0..4 * MAX_FILE_OPS).map(|i| run(move || i * 2))).await;
        assert_eq!(all, (0..4 * MAX_FILE_OPS).map(|i| Some(i * 2)).collect::<Vec<_>>());
    }
}
