//! Runs a headless input script (`--type`, `--send-keys`, `--click`) against a session: waits for the inputs
//! channel, then sends each step through [`InputsShared`], paced so a slow guest's keyboard buffer keeps up.

use crate::input::keymap::Stroke;
use crate::input::motion::Motion;
use crate::input::script::InputAction;
use crate::session::inputs::{InputEvent, InputsShared};
use crate::session::SessionShared;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a script waits for the inputs channel and the server's mouse mode.
pub const INPUTS_WAIT: Duration = Duration::from_secs(60);
/// How long a script with clicks waits for client mouse mode (an absolute device the guest has just opened).
pub const CLIENT_MOUSE_WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);

/// Runs `actions` in order with `delay` between events. `Err` names why the script could not run.
pub async fn run_script(shared: Arc<SessionShared>, actions: Vec<InputAction>, delay: Duration) -> Result<(), String> {
    let inputs = &shared.inputs;
    let ready = until(INPUTS_WAIT, || {
        let s = inputs.state();
        s.linked && s.mouse_mode != 0
    });
    if !ready.await {
        return Err(format!(
            "input script: the server offered no inputs channel, or it did not link within {} s",
            INPUTS_WAIT.as_secs()
        ));
    }
    if actions.iter().any(|a| matches!(a, InputAction::Click { .. })) {
        let offered = |i: &InputsShared| i.state().supported_mouse_modes & 2 != 0;
        if !until(CLIENT_MOUSE_WAIT, || inputs.client_mouse()).await {
            tracing::warn!(
                "--click: the server {} client mouse mode, so clicks move the pointer relatively (server mode); \
                 add -device usb-tablet to the VM or run a guest agent for exact positions",
                if offered(inputs) { "offers but has not switched to" } else { "does not offer" }
            );
        }
    }
    let send = |ev: InputEvent| -> Result<(), String> {
        if inputs.send(ev) {
            Ok(())
        } else {
            Err("input script: the inputs channel closed".into())
        }
    };
    let mut pointer = (0i64, 0i64);
    for action in actions {
        match action {
            InputAction::Keys { label, strokes } => {
                tracing::info!("input: {label}");
                for s in strokes {
                    send(InputEvent::Key(s))?;
                    if matches!(s, Stroke::Release(_)) {
                        tokio::time::sleep(delay).await;
                    }
                }
            }
            InputAction::Click { x, y, button } => {
                tracing::info!("input: click {button:?} at {x},{y}");
                let m = if inputs.client_mouse() {
                    Motion::Absolute { x, y, display: 0 }
                } else {
                    // Server mode: from where the guest says its pointer is, or from the last click.
                    if let Some((cx, cy)) = shared.cursor.view().position {
                        pointer = (cx.into(), cy.into());
                    }
                    let (dx, dy) = (i64::from(x) - pointer.0, i64::from(y) - pointer.1);
                    pointer = (x.into(), y.into());
                    Motion::Relative { dx: dx as i32, dy: dy as i32 }
                };
                send(InputEvent::Move(m))?;
                tokio::time::sleep(delay).await;
                send(InputEvent::Button { button, pressed: true })?;
                tokio::time::sleep(delay).await;
                send(InputEvent::Button { button, pressed: false })?;
                tokio::time::sleep(delay).await;
            }
        }
    }
    // Lets the writer put the last events on the wire before anything disconnects.
    tokio::time::sleep(Duration::from_millis(300).max(delay)).await;
    Ok(())
}

/// Polls `ready` until it holds (`true`) or `wait` has passed (`false`).
async fn until(wait: Duration, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    while !ready() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
    true
}
