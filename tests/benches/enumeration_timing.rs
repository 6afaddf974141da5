//! Response times of the anonymous calls that name an account, for a real account and an
//! unknown one, printed side by side: `StartPasswordReset`, `SendResetCode` (a registered
//! address against an unregistered one) and `RequestAdminHelp`. Both columns should sit at the
//! answer floor (`gatehouse::domain::ANONYMOUS_FLOOR`), whatever work the real account costs.
//!
//! Then `SignIn` with a wrong password, a real account against an unknown one
//! (`BENCH_SIGN_IN_ROUNDS`, default 150, interleaved): both medians and the two-sample
//! Kolmogorov–Smirnov statistic with its p-value (a small p tells the two apart).
//!
//! `cargo bench -p gatehouse-tests --bench enumeration_timing` (release); `BENCH_ROUNDS`
//! (default 40) calls per cell, alternating real and unknown; PostgreSQL too when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set (`scripts/bench` sets it).

use std::time::{Duration, Instant};

use gatehouse_client::pb;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD};

const REAL: &str = "rhea@contoso.example";
const UNKNOWN: &str = "nobody-here@contoso.example";
const ADDRESS: &str = "rhea.home@mail.example";

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    println!(
        "answer floor: {} ms; median (p90) over {rounds} calls each",
        gatehouse::domain::ANONYMOUS_FLOOR.as_millis()
    );
    let mut backends = vec![Backend::Sqlite];
    if std::env::var_os("GATEHOUSE_TEST_POSTGRES_URL").is_some() {
        backends.push(Backend::Postgres);
    }
    for backend in backends {
        let sink = SmtpSink::start().await;
        let server = TestServer::start_with(backend, |config| sink.configure(config)).await;
        let admin = server.admin().await;
        let (rhea, _) = server.user_with_roles(&admin, REAL, &[]).await;
        let added = rhea
            .self_service()
            .add_verification_method(pb::AddVerificationMethodRequest {
                kind: pb::VerificationMethodKind::Email as i32,
                address: ADDRESS.into(),
                current_password: USER_PASSWORD.into(),
            })
            .await
            .expect("add")
            .into_inner();
        let code = sink
            .wait_for(1, Duration::from_secs(10))
            .await
            .remove(0)
            .indented_line()
            .expect("code");
        rhea.self_service()
            .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
                method_id: added.method_id,
                code,
            })
            .await
            .expect("confirm");
        let client = server.client().await;
        let mut service = client.self_service();

        let mut start = (Vec::new(), Vec::new());
        let mut send = (Vec::new(), Vec::new());
        let mut help = (Vec::new(), Vec::new());
        for round in 0..rounds {
            for (who, samples) in [(REAL, &mut start.0), (UNKNOWN, &mut start.1)] {
                let began = Instant::now();
                service
                    .start_password_reset(pb::StartPasswordResetRequest {
                        username: who.into(),
                        ..Default::default()
                    })
                    .await
                    .expect("start");
                samples.push(began.elapsed());
            }
            // A fresh flow each round (a flow sends three codes at most, an account starts
            // five flows an hour: past those, sends are refused early; both are measured).
            let flow = server.start_reset(REAL).await;
            for (address, samples) in [(ADDRESS, &mut send.0), ("other@mail.example", &mut send.1)]
            {
                let began = Instant::now();
                service
                    .send_reset_code(pb::SendResetCodeRequest {
                        flow_id: flow.clone(),
                        address: address.into(),
                    })
                    .await
                    .expect("send");
                samples.push(began.elapsed());
            }
            for (who, samples) in [(REAL, &mut help.0), (UNKNOWN, &mut help.1)] {
                let began = Instant::now();
                service
                    .request_admin_help(pb::RequestAdminHelpRequest {
                        username: who.into(),
                        message: format!("round {round}"),
                        ..Default::default()
                    })
                    .await
                    .expect("help");
                samples.push(began.elapsed());
            }
        }
        println!("{backend:?}:");
        for (name, (real, unknown)) in [
            ("StartPasswordReset", start),
            ("SendResetCode", send),
            ("RequestAdminHelp", help),
        ] {
            println!(
                "  {name:<20} real {}   unknown {}",
                summary(real),
                summary(unknown)
            );
        }
        sign_in_timing(&server, &admin).await;
        server.stop().await;
    }
}

/// Wrong-password sign-ins of the real account against an unknown one, interleaved; each
/// wrong password is new (a repeated one takes another path) and the account is unlocked
/// between batches, outside the timing, so every real sample checks and records a password.
async fn sign_in_timing(server: &gatehouse_tests::TestServer, admin: &gatehouse_client::Client) {
    let rounds: usize = std::env::var("BENCH_SIGN_IN_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let client = server.client().await;
    let (mut real, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 5 == 0 {
            admin
                .admin()
                .unlock_user(pb::UnlockUserRequest {
                    user: Some(gatehouse_tests::username(REAL)),
                })
                .await
                .expect("unlock");
        }
        for (who, samples) in [(REAL, &mut real), (UNKNOWN, &mut unknown)] {
            let began = Instant::now();
            let status = client
                .self_service()
                .sign_in(pb::SignInRequest {
                    username: who.into(),
                    password: format!("wrong password number {round}"),
                    ..Default::default()
                })
                .await
                .expect_err("wrong");
            samples.push(began.elapsed());
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
        }
    }
    let (d, p) = kolmogorov_smirnov(&real, &unknown);
    println!(
        "  {:<20} real {}   unknown {}   KS D = {d:.3}, p = {p:.3} over {rounds} pairs",
        "SignIn (wrong)",
        summary(real),
        summary(unknown)
    );
}

/// The two-sample Kolmogorov–Smirnov statistic and its asymptotic p-value.
fn kolmogorov_smirnov(a: &[Duration], b: &[Duration]) -> (f64, f64) {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    let lambda = (n * m / (n + m)).sqrt() * d;
    if lambda < 0.2 {
        // The series converges too slowly there; the p-value is 1 to many places.
        return (d, 1.0);
    }
    let p = (1..=100)
        .map(|k| {
            let k = f64::from(k);
            2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp()
        })
        .sum::<f64>()
        .clamp(0.0, 1.0);
    (d, p)
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!(
        "{:6.1} ms ({:6.1})",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3
    )
}
