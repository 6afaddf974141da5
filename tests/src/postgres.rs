//! A PostgreSQL 15 server of a test's own, which the test may stop and start again (an
//! outage) without disturbing the shared one every other test uses. Started like
//! `scripts/with-postgres` does: `initdb` and `pg_ctl` on a free loopback port, as the
//! `postgres` user when run as root.

use std::path::{Path, PathBuf};
use std::process::Command;

use gatehouse::store::DatabaseUrl;

/// A throwaway PostgreSQL cluster; stopped and removed when dropped.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Creates and starts a cluster; `None` when the server binaries are not installed.
    pub fn start() -> Option<PrivatePostgres> {
        let bin = [
            PathBuf::from("/usr/lib/postgresql/15/bin"),
            PathBuf::from("/usr/local/pgsql/bin"),
        ]
        .into_iter()
        .find(|dir| dir.join("initdb").exists())?;
        let as_postgres = is_root();
        let dir = tempfile::tempdir().expect("tempdir");
        if as_postgres {
            std::os::unix::fs::chown(dir.path(), Some(postgres_uid()), None).expect("chown");
        }
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            probe.local_addr().expect("addr").port()
        };
        let cluster = PrivatePostgres {
            dir,
            port,
            bin,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        cluster.resume();
        Some(cluster)
    }

    /// The admin URL (database `postgres`).
    pub fn url(&self) -> DatabaseUrl {
        DatabaseUrl::new(format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.port
        ))
    }

    /// Stops the server at once, as a crash or an operator would (`-m immediate`).
    pub fn stop(&self) {
        let data = self.data();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// Starts the (stopped) server again on the same port and data.
    pub fn resume(&self) {
        let data = self.data();
        let log = self.dir.path().join("server.log");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &log.display().to_string(),
                "-w",
                "-o",
                &options,
                "start",
            ],
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let status = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
        } else {
            Command::new(&program)
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
        }
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
        assert!(status.success(), "{} {args:?} failed", program.display());
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if Path::new(&self.data()).join("postmaster.pid").exists() {
            self.stop();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

fn postgres_uid() -> u32 {
    let out = Command::new("id")
        .args(["-u", "postgres"])
        .output()
        .expect("the postgres system user (scripts/with-postgres creates it)");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a uid")
}
