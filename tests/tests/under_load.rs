//! Right answers under concurrency: many checks of one account's password at once, racing
//! password changes, and a full hashing queue shedding calls instead of queueing them.

use gatehouse::store::entities::password_credential;
use gatehouse_client::pb;
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests};
use sea_orm::{Database, EntityTrait as _};
use tonic::Code;

backend_tests!(
    many_correct_sign_ins_of_one_account_at_once_all_succeed,
    racing_password_changes_lose_with_aborted_and_count_nothing,
    a_full_hashing_queue_sheds_calls_at_once_and_recovers,
);

/// The sign-in events of one user, by reason.
async fn sign_in_reasons(admin: &gatehouse_client::Client, id: &str, action: &str) -> Vec<String> {
    gatehouse_tests::audit_events(
        admin,
        pb::ListAuditEventsRequest {
            action: action.into(),
            target: format!("user:{id}"),
            ..Default::default()
        },
    )
    .await
    .into_iter()
    .filter(|e| e.outcome == "failure")
    .map(|e| e.details_json)
    .collect()
}

async fn credential(server: &TestServer, id: &str) -> password_credential::Model {
    let db = Database::connect(
        server
            .config
            .database_url
            .as_ref()
            .expect("a database")
            .expose(),
    )
    .await
    .expect("connect");
    let id = uuid::Uuid::parse_str(id).expect("uuid");
    password_credential::Entity::find_by_id(id)
        .one(&db)
        .await
        .expect("read")
        .expect("a credential")
}

async fn many_correct_sign_ins_of_one_account_at_once_all_succeed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (_, id) = server
        .user_with_roles(&admin, "erin@contoso.example", &[])
        .await;
    // More at once than the lock-out threshold (10) allows wrong passwords.
    let client = server.client().await;
    let calls: Vec<_> = (0..128)
        .map(|_| {
            let mut stub = client.self_service();
            tokio::spawn(async move {
                stub.sign_in(pb::SignInRequest {
                    username: "erin@contoso.example".into(),
                    password: USER_PASSWORD.into(),
                    ..Default::default()
                })
                .await
            })
        })
        .collect();
    let mut signed_in = 0;
    for call in calls {
        match call.await.expect("join") {
            Ok(_) => signed_in += 1,
            Err(status) => assert_eq!(
                status.code(),
                Code::ResourceExhausted,
                "a correct password is never answered as wrong: {status:?}"
            ),
        }
    }
    assert!(signed_in > 0, "the correct password signed in");
    assert_eq!(
        sign_in_reasons(&admin, &id, "session.sign_in").await,
        Vec::<String>::new(),
        "no failure happened, so none is audited"
    );
    let stored = credential(&server, &id).await;
    assert_eq!(
        (stored.failed_attempts, stored.attempts_in_flight),
        (0, 0),
        "nothing counts toward lock-out and every place was given back"
    );
    assert!(stored.locked_until.is_none());
}

async fn racing_password_changes_lose_with_aborted_and_count_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (_, id) = server
        .user_with_roles(&admin, "fred@contoso.example", &[])
        .await;
    let mut sessions = Vec::new();
    for _ in 0..20 {
        let token = server
            .sign_in("fred@contoso.example", USER_PASSWORD)
            .await
            .session_token;
        sessions.push(server.client().await.with_session(token));
    }
    let changes: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            tokio::spawn(async move {
                client
                    .self_service()
                    .change_password(pb::ChangePasswordRequest {
                        current_password: USER_PASSWORD.into(),
                        new_password: format!("racing replacement passphrase number {i}"),
                    })
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for change in changes {
        match change.await.expect("join") {
            Ok(_) => won += 1,
            Err(status) => assert!(
                matches!(status.code(), Code::Aborted | Code::ResourceExhausted),
                "a loser of the race is told so, never that its password was wrong: {status:?}"
            ),
        }
    }
    assert_eq!(won, 1, "exactly one change wins");
    assert_eq!(
        sign_in_reasons(&admin, &id, "password.change").await,
        Vec::<String>::new(),
        "a lost race is not a failed password check"
    );
    let stored = credential(&server, &id).await;
    assert_eq!((stored.failed_attempts, stored.attempts_in_flight), (0, 0));
}

async fn a_full_hashing_queue_sheds_calls_at_once_and_recovers(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.hash_workers = 1;
        config.hash_queue = 2;
    })
    .await;
    let client = server.client().await;
    let calls: Vec<_> = (0..64)
        .map(|i| {
            let mut stub = client.self_service();
            tokio::spawn(async move {
                stub.sign_in(pb::SignInRequest {
                    username: format!("nobody{i}@contoso.example"),
                    password: "not the password of anyone".into(),
                    ..Default::default()
                })
                .await
            })
        })
        .collect();
    let mut shed = 0;
    for call in calls {
        let status = call.await.expect("join").expect_err("nobody signs in");
        match status.code() {
            Code::ResourceExhausted => {
                shed += 1;
                assert!(status.message().contains("retry"), "{status:?}");
            }
            Code::Unauthenticated => {}
            other => panic!("unexpected {other:?}: {status:?}"),
        }
    }
    assert!(
        shed > 0,
        "64 calls at once do not fit one worker and two places"
    );
    // The pool recovers: a real sign-in works afterwards.
    let admin = server.admin().await;
    let (_, _) = server
        .user_with_roles(&admin, "gina@contoso.example", &[])
        .await;
}
