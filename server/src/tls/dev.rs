//! Development certificates for `serve --dev`: a CA, a server certificate for
//! `localhost`/`127.0.0.1` and an admin client certificate, written once and reused.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The service identity of the generated admin client certificate.
pub const DEV_CLIENT_IDENTITY: &str = "gatehouse-dev-admin";

/// Paths of the dev certificate files.
#[derive(Clone, Debug)]
pub struct DevCerts {
    /// CA certificate (trusted for clients and by clients).
    pub ca: PathBuf,
    /// Server certificate.
    pub server_cert: PathBuf,
    /// Server key.
    pub server_key: PathBuf,
    /// Admin client certificate.
    pub client_cert: PathBuf,
    /// Admin client key.
    pub client_key: PathBuf,
}

impl DevCerts {
    /// The file names under `dir`.
    pub fn in_dir(dir: &Path) -> DevCerts {
        DevCerts {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        }
    }
}

/// Generates the dev certificates under `dir` unless they exist; returns their paths and
/// whether they were created now.
pub fn ensure(dir: &Path) -> anyhow::Result<(DevCerts, bool)> {
    let certs = DevCerts::in_dir(dir);
    if certs.ca.exists() {
        return Ok((certs, false));
    }
    create_private_dir(dir)?;

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Gatehouse dev CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut ca_params, 10);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    server
        .distinguished_name
        .push(DnType::CommonName, "gatehouse");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    set_validity(&mut server, 2);
    let server_key = KeyPair::generate()?;
    let server_cert = server.signed_by(&server_key, &issuer)?;

    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, DEV_CLIENT_IDENTITY);
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    set_validity(&mut client, 2);
    let client_key = KeyPair::generate()?;
    let client_cert = client.signed_by(&client_key, &issuer)?;

    write(&dir.join("ca.key"), &ca_key_pem, true)?;
    write(&certs.server_cert, &server_cert.pem(), false)?;
    write(&certs.server_key, &server_key.serialize_pem(), true)?;
    write(&certs.client_cert, &client_cert.pem(), false)?;
    write(&certs.client_key, &client_key.serialize_pem(), true)?;
    // Last: its presence marks a complete set.
    write(&certs.ca, &ca_cert.pem(), false)?;
    Ok((certs, true))
}

fn set_validity(params: &mut CertificateParams, years: i32) {
    let today = chrono::Utc::now().date_naive();
    use chrono::Datelike as _;
    let (y, m, d) = (today.year(), today.month() as u8, today.day().min(28) as u8);
    params.not_before = rcgen::date_time_ymd(y - 1, m, d);
    params.not_after = rcgen::date_time_ymd(y + years, m, d);
}

/// Creates a directory (and its parents) readable by the owner only: it holds the database,
/// keys and the bootstrap password.
pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("while creating {}", dir.display()))
}

/// Writes a file; secrets get mode 0600 before any byte is written, also when the file
/// existed with another mode.
pub(crate) fn write(path: &Path, contents: &str, secret: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("while creating {}", path.display()))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("while restricting {}", path.display()))?;
    }
    file.write_all(contents.as_bytes())
        .with_context(|| format!("while writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (certs, created) = ensure(dir.path()).expect("generate");
        assert!(created);
        let first = std::fs::read(&certs.ca).expect("ca");
        let (_, created) = ensure(dir.path()).expect("reuse");
        assert!(!created);
        assert_eq!(std::fs::read(&certs.ca).expect("ca"), first);
        super::super::server_config(&certs.ca, &certs.server_cert, &certs.server_key)
            .expect("usable");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&certs.client_key)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
