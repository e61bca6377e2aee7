//! Unit tests of `tls`.

use super::*;

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new(s).unwrap()
}

#[test]
fn parses_subjects_like_spice_common() {
    let s = parse_subject("C=XX, L=city,O=org,CN=host").unwrap();
    assert_eq!(
        s,
        vec![
            (oid("2.5.4.6"), "XX".into()),
            (oid("2.5.4.7"), "city".into()),
            (oid("2.5.4.10"), "org".into()),
            (oid("2.5.4.3"), "host".into())
        ]
    );
    assert_eq!(parse_subject(r"O=a\,b\\c,CN=x,").unwrap()[0].1, r"a,b\c");
    assert_eq!(parse_subject("commonName=x").unwrap()[0].0, oid("2.5.4.3"));
    assert_eq!(parse_subject("2.5.4.3=x").unwrap()[0].0, oid("2.5.4.3"));
    assert_eq!(parse_subject("emailAddress=a@b").unwrap()[0].0, oid("1.2.840.113549.1.9.1"));
    for (bad, want) in [
        ("CN", "no =value"),
        ("CN=", "empty value"),
        ("CN=a,,O=b", "no key=value"),
        (r"CN=a\b", "backslash"),
        ("XYZ=1", "unknown attribute"),
        ("", "no components"),
        (" ", "no components"),
    ] {
        let e = parse_subject(bad).unwrap_err();
        assert!(e.contains(want), "{bad:?}: {e}");
    }
}

#[test]
fn compares_subjects_like_x509_name_cmp() {
    let cert = parse_subject("C=XX,O=My  Org,CN=Host.Example").unwrap();
    assert!(subject_matches(&cert, &parse_subject("C=xx,O= my org ,CN=host.example").unwrap()));
    assert!(!subject_matches(&cert, &parse_subject("O=My Org,C=XX,CN=Host.Example").unwrap()), "order matters");
    assert!(!subject_matches(&cert, &parse_subject("C=XX,CN=Host.Example").unwrap()), "count matters");
    assert!(!subject_matches(&cert, &parse_subject("C=XX,O=My Org,CN=other").unwrap()));
    assert_eq!(format_subject(&parse_subject(r"O=a\,b,CN=h").unwrap()), r"O=a\,b,CN=h");
}

#[test]
fn wildcards_stay_within_one_label() {
    assert!(wildcard_match("*.example.com", "vm.EXAMPLE.com"));
    assert!(!wildcard_match("*.example.com", "a.vm.example.com"));
    assert!(!wildcard_match("*.example.com", "example.com"));
    assert!(wildcard_match("vm*.example.com", "vm12.example.com"));
    assert!(wildcard_match("vm*.example.com", "vm.example.com"));
    assert!(!wildcard_match("vm*.example.com", "xvm1.example.com"));
    assert!(wildcard_match("host.example.com.", "host.example.com"));
    assert!(!wildcard_match(&"*a".repeat(40), &"a".repeat(39)));
    assert!(wildcard_match("*", "localhost"));
}

#[test]
fn host_names_prefer_subject_alt_names() {
    let names = CertNames {
        subject: parse_subject("CN=cn.example").unwrap(),
        dns: vec!["*.example.org".into()],
        ips: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
    };
    assert!(names.matches_host("vm.example.org"));
    assert!(names.matches_host("127.0.0.1") && names.matches_host("::1"));
    assert!(!names.matches_host("cn.example"), "CN is ignored when there are subjectAltNames");
    assert_eq!(names.describe(), "*.example.org, 127.0.0.1, ::1");
    let cn_only = CertNames { subject: parse_subject("O=x,CN=cn.example").unwrap(), ..CertNames::default() };
    assert!(cn_only.matches_host("CN.example") && !cn_only.matches_host("other"));
    assert_eq!(cn_only.describe(), "CN=cn.example");
}

#[test]
fn reads_names_from_a_real_certificate() {
    let mut params = rcgen::CertificateParams::new(vec!["vm.example".into(), "127.0.0.1".into()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CountryName, "XX");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Org, Inc");
    params.distinguished_name.push(rcgen::DnType::CommonName, "vm.example");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let names = CertNames::parse(cert.der()).unwrap();
    assert_eq!(format_subject(&names.subject), r"C=XX,O=Org\, Inc,CN=vm.example");
    assert_eq!(names.dns, vec!["vm.example".to_string()]);
    assert_eq!(names.ips, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
    assert!(subject_matches(&names.subject, &parse_subject(r"C=XX,O=org\, inc,CN=VM.example").unwrap()));
    assert!(CertNames::parse(b"not a certificate").is_err());
}

#[test]
fn setup_errors_are_clear() {
    let bad_subject = TlsOptions { host_subject: Some("CN".into()), ..TlsOptions::default() };
    let e = TlsConfig::new("h", &bad_subject).unwrap_err().to_string();
    assert!(e.contains("invalid host subject") && e.contains("C=XX"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("ca.pem");
    std::fs::write(&empty, "not pem").unwrap();
    let e = TlsConfig::new("h", &TlsOptions { ca_file: Some(empty), ..TlsOptions::default() }).unwrap_err();
    assert!(e.to_string().contains("holds no usable PEM certificate"), "{e}");
    let missing = TlsOptions { ca_file: Some(dir.path().join("none.pem")), ..TlsOptions::default() };
    assert!(TlsConfig::new("h", &missing).unwrap_err().to_string().contains("cannot read the CA file"));
    let key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertificateParams::new(vec![]).unwrap().self_signed(&key).unwrap();
    let ok = TlsOptions { ca_pem: Some(ca.pem()), ..TlsOptions::default() };
    assert!(TlsConfig::new("pvespiceproxy:1:2::3", &ok).is_ok(), "a host that is no DNS name still works");
}
