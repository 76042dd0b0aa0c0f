//! Credentials: environment and file discovery, permission and repository
//! checks, and that no credential type ever prints its secret.

use std::collections::HashMap;
use std::path::Path;

use htapsync::api::{AuthError, Credentials};

const SECRET: &str = "s3cr3t-VALUE-do-not-print";

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn all_kinds() -> Vec<Credentials> {
    vec![
        Credentials::Token(SECRET.into()),
        Credentials::AkSk {
            ak: "AK1".into(),
            sk: SECRET.into(),
            security_token: Some(SECRET.into()),
        },
        Credentials::Password {
            user: "alice".into(),
            password: SECRET.into(),
            domain: "acme".into(),
            iam_endpoint: None,
        },
    ]
}

#[test]
fn debug_and_display_never_show_secrets() {
    for creds in all_kinds() {
        let debug = format!("{creds:?}");
        let pretty = format!("{creds:#?}");
        let display = creds.to_string();
        for text in [&debug, &pretty, &display] {
            assert!(!text.contains(SECRET), "secret leaked: {text}");
        }
        assert!(debug.contains("REDACTED"), "{debug}");
    }
    let ak = format!("{:?}", all_kinds()[1]);
    assert!(
        ak.contains("AK1"),
        "the access key id is not secret and helps debugging: {ak}"
    );
}

#[test]
fn env_prefers_ak_sk_then_token_then_password() {
    let lookup = env(&[
        ("HTAPSYNC_TOKEN", "tok"),
        ("HUAWEICLOUD_SDK_AK", "ak"),
        ("HUAWEICLOUD_SDK_SK", "sk"),
    ]);
    let creds = Credentials::from_lookup(&lookup).unwrap().unwrap();
    assert!(matches!(&creds, Credentials::AkSk { ak, security_token: None, .. } if ak == "ak"));

    let lookup = env(&[("HW_AUTH_TOKEN", "tok"), ("HTAPSYNC_USERNAME", "u")]);
    assert_eq!(
        Credentials::from_lookup(&lookup).unwrap().unwrap().mode(),
        "token"
    );

    let lookup = env(&[
        ("HTAPSYNC_USERNAME", "u"),
        ("HTAPSYNC_PASSWORD", "p"),
        ("HTAPSYNC_DOMAIN", "d"),
        ("HTAPSYNC_IAM_ENDPOINT", "https://iam.example.com"),
    ]);
    let creds = Credentials::from_lookup(&lookup).unwrap().unwrap();
    assert!(
        matches!(&creds, Credentials::Password { iam_endpoint: Some(e), .. } if e == "https://iam.example.com")
    );

    let lookup = env(&[
        ("HW_ACCESS_KEY", "ak"),
        ("HW_SECRET_KEY", "sk"),
        ("HTAPSYNC_SECURITY_TOKEN", "st"),
    ]);
    let creds = Credentials::from_lookup(&lookup).unwrap().unwrap();
    assert!(matches!(
        creds,
        Credentials::AkSk {
            security_token: Some(_),
            ..
        }
    ));

    assert!(
        Credentials::from_lookup(&env(&[("HTAPSYNC_TOKEN", "  ")]))
            .unwrap()
            .is_none()
    );
}

#[test]
fn incomplete_env_sets_are_errors_naming_the_missing_variable() {
    let err = Credentials::from_lookup(&env(&[("HTAPSYNC_ACCESS_KEY", "ak")])).unwrap_err();
    assert!(err.to_string().contains("HTAPSYNC_SECRET_KEY"), "{err}");
    let err = Credentials::from_lookup(&env(&[
        ("HTAPSYNC_USERNAME", "u"),
        ("HTAPSYNC_PASSWORD", SECRET),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("HTAPSYNC_DOMAIN"), "{err}");
    assert!(!err.to_string().contains(SECRET));
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

const FILE: &str = r#"
[default]
access_key = "AKFILE"
secret_key = "s3cr3t-VALUE-do-not-print"

[ci]
token = "tok"

[human]
username = "alice"
password = "pw"
domain = "acme"
"#;

#[test]
fn file_profiles_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.toml");
    write_private(&path, FILE);
    assert!(
        matches!(Credentials::from_file(&path, "default").unwrap(), Credentials::AkSk { ak, .. } if ak == "AKFILE")
    );
    assert_eq!(Credentials::from_file(&path, "ci").unwrap().mode(), "token");
    assert_eq!(
        Credentials::from_file(&path, "human").unwrap().mode(),
        "password"
    );
    let missing = Credentials::from_file(&path, "prod").unwrap_err();
    assert!(matches!(missing, AuthError::NoProfile { .. }), "{missing}");
}

#[test]
fn bad_profiles_are_rejected_without_echoing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    write_private(
        &path,
        "[default]\ntoken = \"a\"\naccess_key = \"b\"\nsecret_key = \"s3cr3t-VALUE-do-not-print\"\n",
    );
    let err = Credentials::from_file(&path, "default").unwrap_err();
    assert!(matches!(err, AuthError::BadProfile { .. }), "{err}");
    write_private(
        &path,
        "[default]\nsecret_kye = \"s3cr3t-VALUE-do-not-print\"\n",
    );
    let err = Credentials::from_file(&path, "default").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("line ") && text.contains("secret_kye"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}

#[cfg(unix)]
#[test]
fn group_or_world_readable_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.toml");
    write_private(&path, FILE);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Credentials::from_file(&path, "default").unwrap_err();
    assert!(
        matches!(err, AuthError::InsecurePermissions { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"));
}

#[test]
fn discover_uses_env_then_file_and_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.toml");
    write_private(&path, FILE);
    let file = path.to_str().unwrap();
    let lookup = env(&[
        ("HTAPSYNC_CREDENTIALS_FILE", file),
        ("HTAPSYNC_PROFILE", "ci"),
    ]);
    assert_eq!(
        Credentials::discover_with(&lookup, None)
            .unwrap()
            .unwrap()
            .mode(),
        "token"
    );

    let lookup = env(&[("HTAPSYNC_CREDENTIALS_FILE", file), ("HTAPSYNC_TOKEN", "t")]);
    assert!(matches!(
        Credentials::discover_with(&lookup, None).unwrap(),
        Some(Credentials::Token(_))
    ));

    // The default location under XDG_CONFIG_HOME, profile "default".
    let config = dir.path().join("config");
    std::fs::create_dir_all(config.join("htapsync")).unwrap();
    write_private(&config.join("htapsync/credentials.toml"), FILE);
    let lookup = env(&[("XDG_CONFIG_HOME", config.to_str().unwrap())]);
    assert_eq!(
        Credentials::discover_with(&lookup, None)
            .unwrap()
            .unwrap()
            .mode(),
        "ak/sk"
    );

    // Nothing anywhere: no credentials, not an error.
    let empty = dir.path().join("empty");
    let lookup = env(&[("XDG_CONFIG_HOME", empty.to_str().unwrap())]);
    assert!(Credentials::discover_with(&lookup, None).unwrap().is_none());
}

#[test]
fn credentials_file_inside_the_current_git_repository_is_refused() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    let path = repo.path().join("credentials.toml");
    write_private(&path, FILE);
    let lookup = env(&[("HTAPSYNC_CREDENTIALS_FILE", path.to_str().unwrap())]);
    let err = Credentials::discover_with(&lookup, Some(repo.path())).unwrap_err();
    assert!(matches!(err, AuthError::InsideRepository { .. }), "{err}");
    // Run from elsewhere, the same file is accepted.
    let elsewhere = tempfile::tempdir().unwrap();
    assert!(
        Credentials::discover_with(&lookup, Some(elsewhere.path()))
            .unwrap()
            .is_some()
    );
}
