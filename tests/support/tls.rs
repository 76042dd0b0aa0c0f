//! Certificates for the TLS tests, made with the `openssl` command (which
//! `.ci/run` installs): a private CA and a server certificate for 127.0.0.1.

use std::path::Path;
use std::process::{Command, Stdio};

/// A private CA and a server certificate for 127.0.0.1 signed by it, made
/// with the `openssl` command: (ca.pem, leaf.pem, leaf.key) in `dir`.
pub fn private_ca(dir: &Path, name: &str) -> bool {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let subject = format!("/CN={name}");
    run(&[
        &["req", "-x509", "-nodes", "-days", "2"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem", "-subj", &subject],
    ]
    .concat())
        && run(&[
            &["req", "-nodes"][..],
            &ec,
            &[
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat())
        && run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "leaf.pem",
            "-extfile",
            "leaf.ext",
        ])
}
