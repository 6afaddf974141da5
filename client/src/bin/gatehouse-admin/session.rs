//! The saved session: one file, readable by its owner alone, under the config directory.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::PathBuf;

use gatehouse_client::SessionToken;
use serde::{Deserialize, Serialize};

use crate::config::config_dir;
use crate::output::Failure;

/// What `login` keeps. The token is the only secret; the rest says where it belongs.
#[derive(Serialize, Deserialize)]
pub(crate) struct Saved {
    pub(crate) endpoint: String,
    pub(crate) username: String,
    pub(crate) expire_time: String,
    token: String,
}

impl Saved {
    pub(crate) fn new(
        endpoint: &str,
        username: &str,
        expire_time: String,
        token: &SessionToken,
    ) -> Saved {
        Saved {
            endpoint: endpoint.to_owned(),
            username: username.to_owned(),
            expire_time,
            token: token.expose().to_owned(),
        }
    }

    pub(crate) fn token(&self) -> SessionToken {
        SessionToken::new(self.token.clone())
    }
}

pub(crate) fn path() -> Result<PathBuf, Failure> {
    Ok(config_dir()?.join("session.toml"))
}

/// The saved session, if any.
pub(crate) fn load() -> Result<Option<Saved>, Failure> {
    let path = path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::other(format!(
                "cannot read the session file {}: {e}",
                path.display()
            ))
            .with_hint(
                "sign in again with `gatehouse-admin login` (it replaces the file), or remove \
                 it with `gatehouse-admin logout`",
            ));
        }
    };
    toml::from_str(&text).map(Some).map_err(|_| {
        Failure::other(format!("the session file {} is damaged", path.display())).with_hint(
            "sign in again with `gatehouse-admin login` (it replaces the file), or remove it \
             with `gatehouse-admin logout`",
        )
    })
}

/// Writes the session: a new 0600 file in a 0700 directory, renamed over the old one, so
/// the token is never readable by others, not even for a moment.
pub(crate) fn save(saved: &Saved) -> Result<PathBuf, Failure> {
    let path = path()?;
    let dir = config_dir()?;
    let fail = |what: &str, e: std::io::Error| {
        Failure::other(format!("cannot {what} {}: {e}", dir.display()))
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| fail("create", e))?;
    let text = toml_text(saved);
    let temporary = dir.join(format!(".session.toml.{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|e| fail("write a session file in", e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail("write a session file in", e))?;
    std::fs::rename(&temporary, &path).map_err(|e| fail("write a session file in", e))?;
    Ok(path)
}

/// Forgets the session; true when there was one.
pub(crate) fn remove() -> Result<bool, Failure> {
    let path = path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Failure::other(format!(
            "cannot remove the session file {}: {e}",
            path.display()
        ))),
    }
}

fn toml_text(saved: &Saved) -> String {
    // Written by hand: the toml crate is built for reading only here.
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    format!(
        "# gatehouse-admin session: a bearer token; keep this file private.\n\
         endpoint = {}\nusername = {}\nexpire_time = {}\ntoken = {}\n",
        quote(&saved.endpoint),
        quote(&saved.username),
        quote(&saved.expire_time),
        quote(&saved.token),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_file_reads_back() {
        let saved = Saved::new(
            "https://127.0.0.1:50051",
            "admin@gatehouse.example",
            "2030-01-01T00:00:00Z".to_owned(),
            &SessionToken::new("abc\"def"),
        );
        let back: Saved = toml::from_str(&toml_text(&saved)).expect("parse");
        assert_eq!(back.token().expose(), "abc\"def");
        assert_eq!(back.username, "admin@gatehouse.example");
    }
}
