//! Gatehouse under load: each figure printed next to its ceiling, measured in the same run
//! against a release `gatehouse serve --dev` process on SQLite and (when a server is given)
//! PostgreSQL, over mTLS on loopback.
//!
//! - raw argon2id hashes/s on as many threads as the server's hash workers: the ceiling of
//!   SignIn/s (goal ≥ 0.9 × at 4 and 64 in flight);
//! - `grpc.health.v1.Health/Check`/s on the same server and connections: the ceiling of an
//!   authenticated GetUser/s (goal ≥ 0.5 × at 64 in flight);
//! - GetUser p99 at 1 and at 4 in flight, idle and while 64 sign-ins in flight saturate the
//!   hash workers (goal ≤ 2 ×), next to its p99 while raw argon2id runs on as many threads
//!   at the hash workers' priority in this process instead: what hashing on these cores costs
//!   a cheap call whatever the server does;
//! - the server's peak and settled RSS for a storm of 2,000 concurrent SignIn, sustained
//!   sign-ins at 64 in flight, and a bulk reset (goal: peak ≤ 64 MiB + workers × argon2
//!   memory; settled within 16 MiB of the fresh server's);
//! - messages/s one dispatcher hands a loopback SMTP sink and the SMS webhook, draining a
//!   backlog queued straight into the outbox (goal ≥ 200).
//!
//! A figure and its ceiling are measured in alternating windows, as the machine's speed
//! drifts over seconds; a bulk reset's ceiling is raw hashing just before and just after it.
//!
//! `scripts/bench load` (release). Settings: `BENCH_SECS` per figure (default 3), split into
//! `BENCH_WINDOWS` windows (default 3); `BENCH_SUSTAIN_SECS` (default 60),
//! `BENCH_BULK_USERS` (default 10000), `BENCH_MAIL` (messages, default 2000);
//! `BENCH_ONLY=flood` measures the flood figures alone, `BENCH_FLOOD_RUNS` times (default 1);
//! `GATEHOUSE_TEST_POSTGRES_URL` for PostgreSQL, `GATEHOUSE_BIN` (the server binary;
//! `scripts/bench` builds a release one).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gatehouse::domain::{HashSettings, Hasher, Password};
use gatehouse_client::{Client, pb};
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{Backend, ServerProcess, USER_PASSWORD, fresh_database, user_id};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Connections the load generator spreads its calls over.
const CONNECTIONS: usize = 4;
/// Users signing in (distinct accounts, so no account waits for another's checks).
const SIGN_IN_USERS: usize = 64;
const MIB: f64 = 1024.0 * 1024.0;

#[tokio::main]
async fn main() {
    let secs = Duration::from_secs(gatehouse_tests::seed::env_count("BENCH_SECS", 3u64));
    let workers = HashSettings::default_workers();
    println!(
        "machine: {} cores; server hash workers: {workers}; argon2id m=19456 KiB t=2 p=1",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let backends = gatehouse_tests::seed::bench_backends();
    for backend in backends {
        println!("\n== {backend:?} ==");
        run(backend, secs, workers).await;
    }
}

async fn run(backend: Backend, secs: Duration, workers: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = fresh_database(backend, dir.path()).await;
    let sink = SmtpSink::start().await;
    let webhook = gatehouse_tests::webhook::WebhookSink::start().await;
    let env = [
        ("GATEHOUSE_SMS_WEBHOOK_URL", webhook.url()),
        ("GATEHOUSE_SMTP_HOST", "127.0.0.1".to_owned()),
        ("GATEHOUSE_SMTP_PORT", sink.addr.port().to_string()),
        ("GATEHOUSE_SMTP_SECURITY", "none".to_owned()),
        ("GATEHOUSE_OUTBOX_POLL_MILLIS", "50".to_owned()),
    ];
    let server = ServerProcess::start_with_env(dir.path(), &url, &env).await;
    let pid = server.pid().expect("server pid");
    let admin = server.admin().await;
    let users = sign_in_users(&server, &admin).await;
    let target = users[0].1.clone();
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(server.client().await);
    }
    let token = reader_session(&admin, &clients[0]).await;
    let admins: Vec<Client> = clients
        .iter()
        .map(|c| c.with_session(token.clone()))
        .collect();
    settle().await;
    let fresh_rss = rss(pid);
    println!("RSS fresh (after set-up): {:.1} MiB", fresh_rss / MIB);

    // Each figure and its ceiling are measured in alternating windows (BENCH_WINDOWS of
    // each, BENCH_SECS in all): this machine's speed drifts over seconds, and back-to-back
    // runs would charge the drift to whichever came second.
    let windows = gatehouse_tests::seed::env_count("BENCH_WINDOWS", 3u32).max(1);
    let window = secs / windows;
    let only_flood = std::env::var("BENCH_ONLY").is_ok_and(|only| only == "flood");
    for in_flight in [1, 4, 64].into_iter().filter(|_| !only_flood) {
        let (mut health, mut get_user) = (Sample::default(), Sample::default());
        for _ in 0..windows {
            health.add(sample(&clients, in_flight, window, health_call()).await);
            get_user.add(sample(&admins, in_flight, window, get_user_call(&target)).await);
        }
        let (health, get_user) = (health.figures(), get_user.figures());
        println!(
            "{in_flight:>2} in flight: Health/Check {health}; GetUser {get_user}; GetUser/Health {:.2} (goal >= 0.5 at 64)",
            get_user.rate / health.rate
        );
    }
    for in_flight in [1, 4, 64].into_iter().filter(|_| !only_flood) {
        let (mut raw, mut sign_in) = (0.0, Sample::default());
        for _ in 0..windows {
            raw += raw_hash_rate(workers, window).await / f64::from(windows);
            sign_in.add(sample(&clients, in_flight, window, sign_in_call(&users)).await);
        }
        let sign_in = sign_in.figures();
        println!(
            "{in_flight:>2} in flight: SignIn {sign_in}; raw argon2id on {workers} thread(s) {raw:.1}/s; SignIn/raw {:.2} (goal >= 0.9 at 4 and 64)",
            sign_in.rate / raw
        );
    }
    let flood = Flood {
        clients: &clients,
        admins: &admins,
        users: &users,
        target: &target,
        workers,
        windows,
        window,
    };
    for _ in 0..gatehouse_tests::seed::env_count("BENCH_FLOOD_RUNS", 1u32) {
        for in_flight in [1, 4] {
            flood.figures(in_flight).await;
        }
    }
    if only_flood {
        server.kill().await;
        return;
    }
    let bound = 64.0 + workers as f64 * 19456.0 / 1024.0;
    println!("memory goal: peak <= {bound:.1} MiB; settled within 16 MiB of fresh");
    settle().await;
    let base = rss(pid);
    let storm = watch_rss(pid, storm(&clients, 2000)).await;
    settle().await;
    println!(
        "storm of 2000 concurrent SignIn: {} shed, {} refused; RSS peak {:.1} MiB, settled {:.1} MiB (fresh {:.1})",
        storm.1.0,
        storm.1.1,
        storm.0 / MIB,
        rss(pid) / MIB,
        base / MIB
    );
    let sustain = Duration::from_secs(gatehouse_tests::seed::env_count(
        "BENCH_SUSTAIN_SECS",
        60u64,
    ));
    let (peak, sustained) =
        watch_rss(pid, sample(&clients, 64, sustain, sign_in_call(&users))).await;
    let sustained = sustained.figures();
    settle().await;
    println!(
        "{} s of SignIn at 64 in flight: {sustained}; RSS peak {:.1} MiB, settled {:.1} MiB",
        sustain.as_secs(),
        peak / MIB,
        rss(pid) / MIB
    );

    let tenant_id = gatehouse_tests::tenant_id(&admin).await;
    let bulk_users = gatehouse_tests::seed::env_count("BENCH_BULK_USERS", 10_000usize);
    let ids = gatehouse_tests::seed::insert_users(&url, tenant_id, "bulk", bulk_users, false).await;
    // The bulk reset's ceiling: raw hashing just before and just after it.
    let before = raw_hash_rate(workers, secs).await;
    let (peak, (reset, elapsed)) =
        watch_rss(pid, bulk_reset(&admin, &ids, "bench-bulk", false)).await;
    let raw = (before + raw_hash_rate(workers, secs).await) / 2.0;
    settle().await;
    println!(
        "BulkResetPasswords of {reset} users in {elapsed:.1} s ({:.1} users/s, {:.2} of raw argon2id); RSS peak {:.1} MiB, settled {:.1} MiB",
        f64::from(reset) / elapsed,
        f64::from(reset) / elapsed / raw,
        peak / MIB,
        rss(pid) / MIB
    );

    // The bulk reset told each person by email (an administrator reset their password): the
    // time the outbox takes to deliver those, and an empty outbox before the next figure.
    let started = Instant::now();
    let notices = drain_outbox(&url).await;
    println!(
        "dispatcher: the bulk reset's {notices} notices still queued at its end delivered in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mail = gatehouse_tests::seed::env_count("BENCH_MAIL", 2000usize);
    let key = gatehouse::domain::SecretKey::parse(
        &std::fs::read_to_string(dir.path().join("secret.key")).expect("the server's key"),
    )
    .expect("key");
    let before = sink.mails().len();
    gatehouse_tests::seed::queue_messages(&url, &key, tenant_id, "email", mail).await;
    let started = Instant::now();
    sink.wait_for(before + mail, Duration::from_secs(600)).await;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "dispatcher: {mail} queued emails delivered to the SMTP sink in {elapsed:.1} s = {:.0} messages/s (goal >= 200)",
        mail as f64 / elapsed
    );
    let before = webhook.hits().len();
    gatehouse_tests::seed::queue_messages(&url, &key, tenant_id, "sms", mail).await;
    let started = Instant::now();
    while webhook.hits().len() < before + mail {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "texts delivered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "dispatcher: {mail} queued texts delivered to the SMS webhook in {elapsed:.1} s = {:.0} messages/s (goal >= 200)",
        mail as f64 / elapsed
    );
    server.kill().await;
}

/// GetUser's p99 idle, while 64 sign-ins in flight saturate the server's hash workers, and
/// while as many raw argon2id threads hash at the same priority in this process instead (what
/// hashing on these cores costs a cheap call whatever the server does: the floor of the
/// flood's ratio on this machine).
struct Flood<'a> {
    /// Connections for the sign-ins.
    clients: &'a [Client],
    /// The same connections with a session that may read `target`.
    admins: &'a [Client],
    users: &'a [(String, String)],
    target: &'a str,
    /// The server's hash workers, and so the raw hashing threads.
    workers: usize,
    windows: u32,
    window: Duration,
}

impl Flood<'_> {
    /// Prints the three at `in_flight` GetUser calls, `windows` windows of each, alternating.
    async fn figures(&self, in_flight: usize) {
        let get_user = || get_user_call(self.target);
        let (mut idle, mut flooded, mut beside) =
            (Sample::default(), Sample::default(), Sample::default());
        let (mut flood, mut raw) = (Sample::default(), 0.0);
        // Until the hash workers are saturated (a flood), or hashing at full speed.
        let ramp = Duration::from_millis(300);
        for _ in 0..self.windows {
            idle.add(sample(self.admins, in_flight, self.window, get_user()).await);

            let stop = Arc::new(AtomicBool::new(false));
            let signing_in = {
                let (clients, stop) = (self.clients.to_vec(), stop.clone());
                let call = sign_in_call(self.users);
                tokio::spawn(async move { sample_until(&clients, 64, stop, call).await })
            };
            tokio::time::sleep(ramp).await;
            flooded.add(sample(self.admins, in_flight, self.window, get_user()).await);
            stop.store(true, Ordering::Relaxed);
            flood.add(signing_in.await.expect("flood"));

            let hashing = tokio::spawn(raw_hash_rate(self.workers, self.window + ramp));
            tokio::time::sleep(ramp).await;
            beside.add(sample(self.admins, in_flight, self.window, get_user()).await);
            raw += hashing.await.expect("raw hashing") / f64::from(self.windows);
        }
        let (idle, flooded, beside) = (idle.figures(), flooded.figures(), beside.figures());
        let ratio = |f: Figures| f.p99.as_secs_f64() / idle.p99.as_secs_f64();
        println!(
            "GetUser at {in_flight} in flight, idle: {idle}; during a sign-in flood ({:.1} SignIn/s): {flooded}; p99 ratio {:.2} (goal <= 2)",
            flood.figures().rate,
            ratio(flooded)
        );
        println!(
            "  beside raw argon2id at the same priority in the load generator ({raw:.1} hashes/s): {beside}; p99 ratio {:.2} (the machine's floor)",
            ratio(beside)
        );
    }
}

/// The calls made in one or more windows: their latencies, failures and time taken.
#[derive(Debug, Default)]
struct Sample {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: f64,
}

impl Sample {
    /// Pools another window's calls into this one.
    fn add(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
    }

    fn figures(mut self) -> Figures {
        let all = &mut self.latencies;
        all.sort_unstable();
        let at = |q: f64| {
            all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Figures {
            rate: all.len() as f64 / self.elapsed,
            p50: at(0.50),
            p99: at(0.99),
            errors: self.errors,
        }
    }
}

/// Rate and latency of one measured call.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0}/s p50 {:.2} ms p99 {:.2} ms",
            self.rate,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )?;
        if self.errors > 0 {
            write!(f, " ({} errors)", self.errors)?;
        }
        Ok(())
    }
}

/// Calls `call` from `in_flight` loops spread over `clients` for `duration`.
async fn sample<F, Fut>(clients: &[Client], in_flight: usize, duration: Duration, call: F) -> Sample
where
    F: Fn(Client, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let sample = sample_until(clients, in_flight, stop, call).await;
    timer.abort();
    sample
}

/// Calls `call` from `in_flight` loops spread over `clients` until `stop` is set; the calls
/// in flight then finish and count.
async fn sample_until<F, Fut>(
    clients: &[Client],
    in_flight: usize,
    stop: Arc<AtomicBool>,
    call: F,
) -> Sample
where
    F: Fn(Client, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send,
{
    let started = Instant::now();
    let errors = Arc::new(AtomicU64::new(0));
    let loops: Vec<_> = (0..in_flight)
        .map(|n| {
            let client = clients[n % clients.len()].clone();
            let (call, stop, errors) = (call.clone(), stop.clone(), errors.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = n;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    if call(client.clone(), i).await.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    latencies.push(t.elapsed());
                    i += in_flight;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for handle in loops {
        latencies.extend(handle.await.expect("load loop"));
    }
    Sample {
        latencies,
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed().as_secs_f64(),
    }
}

fn health_call()
-> impl Fn(Client, usize) -> std::pin::Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send>>
+ Clone
+ Send
+ 'static {
    |client: Client, _| {
        let mut health = HealthClient::new(client.channel());
        Box::pin(async move { health.check(HealthCheckRequest::default()).await.map(drop) })
    }
}

fn sign_in_call(
    users: &[(String, String)],
) -> impl Fn(Client, usize) -> std::pin::Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send>>
+ Clone
+ Send
+ 'static {
    let names: Arc<Vec<String>> = Arc::new(users.iter().map(|(name, _)| name.clone()).collect());
    move |client: Client, i: usize| {
        let name = names[i % names.len()].clone();
        Box::pin(async move {
            client
                .self_service()
                .sign_in(pb::SignInRequest {
                    username: name,
                    password: USER_PASSWORD.into(),
                    ..Default::default()
                })
                .await
                .map(drop)
        })
    }
}

fn get_user_call(
    target: &str,
) -> impl Fn(Client, usize) -> std::pin::Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send>>
+ Clone
+ Send
+ 'static {
    let target = target.to_owned();
    move |client: Client, _| {
        let target = target.clone();
        Box::pin(async move {
            client
                .admin()
                .get_user(pb::GetUserRequest {
                    user: Some(user_id(&target)),
                })
                .await
                .map(drop)
        })
    }
}

/// An auditor's session token: the person whose GetUser calls are measured.
async fn reader_session(admin: &Client, client: &Client) -> String {
    let name = "reader@contoso.example";
    gatehouse_tests::create_user(admin, name, &[pb::Role::Auditor]).await;
    client
        .self_service()
        .sign_in(pb::SignInRequest {
            username: name.to_owned(),
            password: USER_PASSWORD.into(),
            ..Default::default()
        })
        .await
        .expect("the reader signs in")
        .into_inner()
        .session_token
}

/// Creates the accounts the sign-in loops use; returns (username, id).
async fn sign_in_users(server: &ServerProcess, admin: &Client) -> Vec<(String, String)> {
    let mut users = Vec::new();
    for n in 0..SIGN_IN_USERS {
        let username = format!("load{n}@contoso.example");
        let id = gatehouse_tests::create_user(admin, &username, &[]).await;
        users.push((username, id));
    }
    // One sign-in each, so every account's first-sign-in work is done before measuring.
    let client = server.client().await;
    for (name, _) in &users {
        client
            .self_service()
            .sign_in(pb::SignInRequest {
                username: name.clone(),
                password: USER_PASSWORD.into(),
                ..Default::default()
            })
            .await
            .expect("sign in");
    }
    users
}

/// Raw argon2id with the server's settings on `workers` threads: the pool the server uses,
/// in this process, hashing back to back.
async fn raw_hash_rate(workers: usize, duration: Duration) -> f64 {
    let hasher = Hasher::new(HashSettings {
        workers,
        ..HashSettings::default()
    })
    .expect("hasher");
    let password = Password::new("a benchmark passphrase of fair length".to_owned());
    let stop = Instant::now() + duration;
    let started = Instant::now();
    let loops: Vec<_> = (0..workers)
        .map(|_| {
            let (hasher, password) = (hasher.clone(), password.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < stop {
                    hasher.hash_waiting(&password).await.expect("hash");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for handle in loops {
        total += handle.await.expect("hash loop");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// `count` SignIn calls of unknown users at once; returns (shed, refused).
async fn storm(clients: &[Client], count: usize) -> (u64, u64) {
    let calls: Vec<_> = (0..count)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            tokio::spawn(async move {
                client
                    .self_service()
                    .sign_in(pb::SignInRequest {
                        username: format!("storm{i}@contoso.example"),
                        password: "a password nobody has".into(),
                        ..Default::default()
                    })
                    .await
            })
        })
        .collect();
    let (mut shed, mut refused) = (0, 0);
    for call in calls {
        match call.await.expect("storm call") {
            Err(s) if s.code() == tonic::Code::ResourceExhausted => shed += 1,
            _ => refused += 1,
        }
    }
    (shed, refused)
}

/// A bulk reset of `ids` read to its end; returns (users reset, seconds).
async fn bulk_reset(admin: &Client, ids: &[uuid::Uuid], key: &str, invite: bool) -> (i32, f64) {
    let started = Instant::now();
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
            users: ids.iter().map(|id| user_id(&id.to_string())).collect(),
            idempotency_key: key.to_owned(),
            delivery: if invite {
                pb::ResetDelivery::Invitation as i32
            } else {
                pb::ResetDelivery::Unspecified as i32
            },
            ..Default::default()
        })
        .await
        .expect("bulk reset")
        .into_inner();
    let mut reset = 0;
    while let Some(message) = stream.message().await.expect("bulk stream") {
        if let Some(pb::bulk_reset_passwords_response::Event::Summary(summary)) = message.event {
            reset = summary.reset;
        }
    }
    (reset, started.elapsed().as_secs_f64())
}

/// Lets the server go idle (and its allocator return what it can) before a reading.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(3)).await;
}

/// The process's resident set in bytes.
fn rss(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib * 1024.0)
}

/// Runs `work` while sampling the process's RSS every 5 ms; returns the peak and the result.
async fn watch_rss<T>(pid: u32, work: impl Future<Output = T>) -> (f64, T) {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = rss(pid);
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss(pid));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak.max(rss(pid))
        })
    };
    let result = work.await;
    stop.store(true, Ordering::Relaxed);
    (sampler.await.expect("sampler"), result)
}

/// Waits until the outbox holds nothing undelivered; returns how much it held at first.
async fn drain_outbox(url: &gatehouse::store::DatabaseUrl) -> u64 {
    use gatehouse::store::entities::outbox_message;
    use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
    let db = sea_orm::Database::connect(url.expose()).await.expect("db");
    let pending = || {
        outbox_message::Entity::find()
            .filter(outbox_message::Column::SentAt.is_null())
            .count(&db)
    };
    let first = pending().await.expect("count");
    let started = Instant::now();
    while pending().await.expect("count") > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the outbox drains"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.close().await.expect("close");
    first
}
