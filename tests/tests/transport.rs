//! The transport: mutual TLS refusals, health, reflection, and enumeration-safe sign-in.

use gatehouse_client::{ClientBuilder, pb};
use gatehouse_tests::{Backend, TestServer, backend_tests};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

backend_tests!(
    health_reports_serving_after_migrations,
    reflection_lists_both_services_and_health_in_v1_and_v1alpha,
    connections_without_a_valid_client_certificate_are_refused,
    clients_refuse_a_server_their_ca_did_not_sign,
    sign_in_failures_are_indistinguishable,
    a_second_start_reuses_certificates_data_and_the_bootstrap_admin,
);

async fn health_reports_serving_after_migrations(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut health = HealthClient::new(server.client().await.channel());
    for service in ["", "gatehouse.v1.AdminService", "gatehouse.v1.SelfService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
}

async fn reflection_lists_both_services_and_health_in_v1_and_v1alpha(backend: Backend) {
    let server = TestServer::start(backend).await;
    let channel = server.client().await.channel();

    use tonic_reflection::pb::v1;
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection v1")
        .into_inner();
    let response = stream
        .message()
        .await
        .expect("message")
        .expect("a response");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "gatehouse.v1.AdminService",
        "gatehouse.v1.SelfService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }

    // grpcurl's `describe`: the file that defines a symbol; also for every error detail a
    // failed call carries, so a generic client can decode them.
    for symbol in [
        "gatehouse.v1.AdminService",
        "google.rpc.Status",
        "google.rpc.BadRequest",
    ] {
        let request = v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1::server_reflection_request::MessageRequest::FileContainingSymbol(
                    symbol.to_owned(),
                ),
            ),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::once(request))
            .await
            .expect("v1")
            .into_inner();
        let response = stream
            .message()
            .await
            .expect("message")
            .expect("a response");
        assert!(
            matches!(
                response.message_response,
                Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(ref files)) if !files.file_descriptor_proto.is_empty()
            ),
            "reflection describes {symbol}"
        );
    }

    use tonic_reflection::pb::v1alpha;
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("v1alpha")
        .into_inner();
    let response = stream
        .message()
        .await
        .expect("message")
        .expect("a response");
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reflection answer");
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "gatehouse.v1.SelfService")
    );
}

/// Whether a client built this way is refused: at connect time or on its first call.
async fn refused(builder: ClientBuilder) -> bool {
    let Ok(client) = builder.connect().await else {
        return true;
    };
    let mut health = HealthClient::new(client.channel());
    health.check(HealthCheckRequest::default()).await.is_err()
}

fn leaf(common_name: &str, not_after: Option<(i32, u8, u8)>) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    if let Some((y, m, d)) = not_after {
        params.not_before = rcgen::date_time_ymd(y - 1, m, d);
        params.not_after = rcgen::date_time_ymd(y, m, d);
    }
    (params, KeyPair::generate().expect("key"))
}

fn foreign_ca() -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "Some other CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("ca");
    (cert, Issuer::new(params, key))
}

async fn connections_without_a_valid_client_certificate_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    // The control: the dev client certificate is accepted.
    assert!(
        !refused(
            server
                .builder()
                .identity_pem_files(
                    server.cert_path("client.pem"),
                    server.cert_path("client.key")
                )
                .expect("files")
        )
        .await
    );

    // No client certificate.
    assert!(refused(server.builder()).await, "no client certificate");

    // A certificate from another CA.
    let (_, other) = foreign_ca();
    let (params, key) = leaf("intruder", None);
    let cert = params.signed_by(&key, &other).expect("sign");
    assert!(
        refused(
            server
                .builder()
                .identity_pem(cert.pem(), key.serialize_pem())
        )
        .await,
        "foreign CA"
    );

    // An expired certificate from the right CA.
    let ca_pem = std::fs::read_to_string(server.cert_path("ca.pem")).expect("ca");
    let ca_key =
        KeyPair::from_pem(&std::fs::read_to_string(server.cert_path("ca.key")).expect("key"))
            .expect("key");
    let dev_ca = Issuer::from_ca_cert_pem(&ca_pem, ca_key).expect("issuer");
    let (params, key) = leaf("expired-service", Some((2021, 1, 1)));
    let cert = params.signed_by(&key, &dev_ca).expect("sign");
    assert!(
        refused(
            server
                .builder()
                .identity_pem(cert.pem(), key.serialize_pem())
        )
        .await,
        "expired"
    );

    // The same CA with a valid date is accepted, and its identity is the common name.
    let (params, key) = leaf("helpdesk-portal", None);
    let cert = params.signed_by(&key, &dev_ca).expect("sign");
    let client = server
        .client_with_identity(&cert.pem(), &key.serialize_pem())
        .await;
    let status = client
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("helpdesk-portal"), "{status:?}");
}

async fn clients_refuse_a_server_their_ca_did_not_sign(backend: Backend) {
    let server = TestServer::start(backend).await;
    let (other_ca, _) = foreign_ca();
    let builder = ClientBuilder::new(format!("https://{}", server.addr))
        .ca_pem(other_ca.pem())
        .domain_name("localhost")
        .identity_pem_files(
            server.cert_path("client.pem"),
            server.cert_path("client.key"),
        )
        .expect("files");
    assert!(refused(builder).await);
}

async fn sign_in_failures_are_indistinguishable(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "olga@contoso.example", &[])
        .await;
    admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "nopass@contoso.example".into(),
            display_name: "No password yet".into(),
            ..Default::default()
        })
        .await
        .expect("create");
    let attempt = |username: &str, tenant: &str| {
        let client = admin.without_session();
        let request = pb::SignInRequest {
            username: username.to_owned(),
            password: "a wrong but plausible passphrase".to_owned(),
            tenant: tenant.to_owned(),
        };
        async move {
            client
                .self_service()
                .sign_in(request)
                .await
                .expect_err("must fail")
        }
    };
    let failures = [
        attempt("olga@contoso.example", "").await,
        attempt("nobody@contoso.example", "").await,
        attempt("nopass@contoso.example", "").await,
        attempt("olga@contoso.example", "no-such-tenant").await,
    ];
    for failure in &failures {
        assert_eq!(failure.code(), Code::Unauthenticated);
        assert_eq!(failure.message(), failures[0].message());
        assert_eq!(failure.details(), failures[0].details());
    }
    assert!(!failures[0].message().contains("olga"));
}

async fn a_second_start_reuses_certificates_data_and_the_bootstrap_admin(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let admin = server.admin().await;
    admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "pat@contoso.example".into(),
            display_name: "Pat".into(),
            ..Default::default()
        })
        .await
        .expect("create");
    let config = server.config.clone();
    let ca_before = std::fs::read(server.cert_path("ca.pem")).expect("ca");
    let bootstrap_before =
        std::fs::read(server.data_dir.join(gatehouse::BOOTSTRAP_FILE)).expect("bootstrap file");
    let dir = server.take_dir();
    server.stop().await;

    let again = TestServer::run(config).await;
    assert_eq!(
        std::fs::read(again.cert_path("ca.pem")).expect("ca"),
        ca_before
    );
    assert_eq!(
        std::fs::read(again.data_dir.join(gatehouse::BOOTSTRAP_FILE)).expect("file"),
        bootstrap_before
    );
    let signed_in = again
        .sign_in(&again.admin_username, gatehouse_tests::ADMIN_PASSWORD)
        .await;
    assert_eq!(
        signed_in.session_kind(),
        pb::SessionKind::Full,
        "the changed password survived the restart"
    );
    let client = again.client().await.with_session(signed_in.session_token);
    let pat = client
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(gatehouse_tests::username("pat@contoso.example")),
        })
        .await;
    assert!(pat.is_ok());
    again.stop().await;
    drop(dir);
}

mod init_admin {
    use super::*;

    backend_tests!(init_admin_creates_the_first_admin_once);

    async fn init_admin_creates_the_first_admin_once(backend: Backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = gatehouse::Config {
            data_dir: dir.path().to_path_buf(),
            database_url: Some(gatehouse_tests::fresh_database(backend, dir.path()).await),
            ..gatehouse::Config::default()
        };
        // Production order: a key first (`gatehouse gen-key`), then init-admin.
        let refused = gatehouse::init_admin(&config, "It-Admin@contoso.example")
            .await
            .expect_err("no key file, no admin");
        assert!(format!("{refused:#}").contains("gen-key"), "{refused:#}");
        std::fs::write(
            config.secret_key_file(),
            gatehouse::domain::SecretKey::generate().to_hex(),
        )
        .expect("key file");
        let (username, password) = gatehouse::init_admin(&config, "It-Admin@contoso.example")
            .await
            .expect("init-admin")
            .expect("an admin is created on an empty database");
        assert_eq!(username, "it-admin@contoso.example");
        let again = gatehouse::init_admin(&config, "other@contoso.example")
            .await
            .expect("init-admin");
        assert!(again.is_none(), "a second run changes nothing");

        // Serve the same database (dev mode only for its certificates: no second admin).
        let server = TestServer::run(gatehouse::Config {
            dev: true,
            ..config.clone()
        })
        .await;
        assert!(
            server.admin_password.is_empty(),
            "no bootstrap admin when one exists"
        );
        let signed_in = server
            .sign_in("it-admin@contoso.example", password.expose())
            .await;
        assert_eq!(
            signed_in.session_kind(),
            pb::SessionKind::PasswordChangeOnly
        );

        // The one-time password lost: `init-admin --reissue` gives a new one, and the old one
        // and its session stop working.
        let reissued = gatehouse::reissue_admin(&config, "it-admin@contoso.example")
            .await
            .expect("reissue");
        let old = server
            .client()
            .await
            .self_service()
            .sign_in(pb::SignInRequest {
                username: "it-admin@contoso.example".into(),
                password: password.expose().to_owned(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(old.code(), tonic::Code::Unauthenticated);
        let stale = server
            .client()
            .await
            .with_session(signed_in.session_token)
            .self_service()
            .get_me(pb::GetMeRequest {})
            .await
            .unwrap_err();
        assert_eq!(stale.code(), tonic::Code::Unauthenticated);
        let fresh = server
            .sign_in("it-admin@contoso.example", reissued.expose())
            .await;
        assert_eq!(fresh.session_kind(), pb::SessionKind::PasswordChangeOnly);

        // Once they chose a password, a reissue is refused: another admin resets it.
        server
            .client()
            .await
            .with_session(fresh.session_token)
            .self_service()
            .change_password(pb::ChangePasswordRequest {
                current_password: reissued.expose().to_owned(),
                new_password: gatehouse_tests::ADMIN_PASSWORD.into(),
            })
            .await
            .expect("change");
        let refused = gatehouse::reissue_admin(&config, "it-admin@contoso.example")
            .await
            .expect_err("a chosen password is not replaced");
        assert!(
            format!("{refused:#}").contains("has chosen a password"),
            "{refused:#}"
        );
        let stranger = gatehouse::reissue_admin(&config, "nobody@contoso.example")
            .await
            .expect_err("no such user");
        assert!(
            format!("{stranger:#}").contains("not a user"),
            "{stranger:#}"
        );
        server.stop().await;
    }
}
