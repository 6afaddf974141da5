//! Tenants made by an operator: a global admin of the default tenant creates a directory and
//! its first admin in one step; that admin signs in by their domain and administers only
//! their own tenant.

use gatehouse_client::pb;
use gatehouse_tests::{
    ADMIN_PASSWORD, Backend, TestServer, audit_events, backend_tests, field_violations,
};
use tonic::Code;

backend_tests!(
    an_operator_creates_a_tenant_whose_admin_runs_only_their_own,
    bad_tenants_are_refused_whole_and_nothing_is_half_written,
);

async fn an_operator_creates_a_tenant_whose_admin_runs_only_their_own(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.admin().await;
    let created = operator
        .admin()
        .create_tenant(pb::CreateTenantRequest {
            name: " Fabrikam ".into(),
            primary_domain: "Fabrikam.Example".into(),
            admin_username: "Boss@fabrikam.example".into(),
        })
        .await
        .expect("create")
        .into_inner();
    let tenant = created.tenant.expect("tenant");
    assert_eq!(tenant.name, "Fabrikam");
    assert_eq!(tenant.primary_domain, "fabrikam.example");
    assert!(!tenant.is_default);
    assert!(created.admin_one_time_password.len() >= 16);

    let listed = operator
        .admin()
        .list_tenants(pb::ListTenantsRequest {})
        .await
        .expect("list")
        .into_inner()
        .tenants;
    assert_eq!(listed.len(), 2);
    assert!(listed[0].is_default, "oldest first: the default tenant");
    assert_eq!(listed[1], tenant);

    // The new admin signs in by their domain, with the one-time password, and must change it.
    let first = server
        .sign_in("boss@fabrikam.example", &created.admin_one_time_password)
        .await;
    assert_eq!(first.session_kind(), pb::SessionKind::PasswordChangeOnly);
    let boss = server.client().await.with_session(first.session_token);
    let changed = boss
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: created.admin_one_time_password.clone(),
            new_password: ADMIN_PASSWORD.into(),
        })
        .await
        .expect("change")
        .into_inner();
    let boss = boss.with_session(changed.session_token);

    // Their directory holds only them; the default tenant's users are out of sight.
    let users = boss
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .expect("list users")
        .into_inner()
        .users;
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["boss@fabrikam.example"]);
    let other = boss
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(gatehouse_tests::username(&server.admin_username)),
        })
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    // A global admin of another tenant does not manage tenants.
    let denied = boss
        .admin()
        .list_tenants(pb::ListTenantsRequest {})
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("default tenant"), "{denied:?}");

    // Both chains record it and stay intact.
    let mine = audit_events(
        &operator,
        pb::ListAuditEventsRequest {
            action: "tenant.create".into(),
            target: format!("tenant:{}", tenant.id),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(
        mine[0].actor,
        format!("user:{}", operator_id(&operator).await)
    );
    let theirs = audit_events(&boss, pb::ListAuditEventsRequest::default()).await;
    let actions: Vec<&str> = theirs.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"tenant.create"), "{actions:?}");
    assert!(actions.contains(&"bootstrap.admin"), "{actions:?}");
    for client in [&operator, &boss] {
        let chain = client
            .admin()
            .verify_audit_chain(pb::VerifyAuditChainRequest {})
            .await
            .expect("verify")
            .into_inner();
        assert!(chain.intact, "{chain:?}");
    }
}

async fn bad_tenants_are_refused_whole_and_nothing_is_half_written(backend: Backend) {
    let server = TestServer::start(backend).await;
    let operator = server.admin().await;
    let create = |name: &str, domain: &str, admin: &str| {
        let request = pb::CreateTenantRequest {
            name: name.into(),
            primary_domain: domain.into(),
            admin_username: admin.into(),
        };
        let operator = operator.clone();
        async move { operator.admin().create_tenant(request).await }
    };
    let bad = create("", "not a domain", "boss@elsewhere.example")
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let mut fields: Vec<String> = field_violations(&bad).into_iter().map(|(f, _)| f).collect();
    fields.sort();
    assert_eq!(fields, ["admin_username", "name", "primary_domain"]);
    let under_other = create(
        "Contoso East",
        "east.contoso.example",
        "boss@contoso.example",
    )
    .await
    .unwrap_err();
    assert_eq!(
        field_violations(&under_other),
        [(
            "admin_username".to_owned(),
            "must be under the primary domain (name@primary_domain), so that it signs in to the new tenant".to_owned()
        )]
    );

    create("Fabrikam", "fabrikam.example", "boss@fabrikam.example")
        .await
        .expect("the first");
    for (name, domain) in [
        ("Fabrikam", "fabrikam2.example"),
        ("Fabrikam Two", "fabrikam.example"),
    ] {
        let taken = create(name, domain, &format!("boss@{domain}"))
            .await
            .unwrap_err();
        assert_eq!(
            taken.code(),
            Code::AlreadyExists,
            "{name} {domain}: {taken:?}"
        );
    }
    // A domain whose users already sign in to another tenant is not taken over.
    operator
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "zed@northwind.example".into(),
            display_name: "Zed".into(),
            ..Default::default()
        })
        .await
        .expect("a default-tenant user under northwind.example");
    let hijack = create("Northwind", "northwind.example", "boss@northwind.example")
        .await
        .unwrap_err();
    assert_eq!(hijack.code(), Code::FailedPrecondition, "{hijack:?}");
    assert!(hijack.message().contains("northwind.example"), "{hijack:?}");
    let tenants = operator
        .admin()
        .list_tenants(pb::ListTenantsRequest {})
        .await
        .expect("list")
        .into_inner()
        .tenants;
    assert_eq!(tenants.len(), 2, "refused tenants left nothing behind");
    // The name that failed on its domain was never created, so it is free.
    create(
        "Fabrikam Two",
        "fabrikam2.example",
        "boss@fabrikam2.example",
    )
    .await
    .expect("a free name and domain");
}

async fn operator_id(client: &gatehouse_client::Client) -> String {
    client
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("me")
        .into_inner()
        .user
        .expect("user")
        .id
}
