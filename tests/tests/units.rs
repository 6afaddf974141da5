//! Administrative units: managing them, and what a role scoped to one reaches — listings,
//! `CanReset`'s scope, statements over many users, help-request routing — and what deleting a
//! unit takes with it.

use std::time::Duration;

use gatehouse_client::{Client, pb};
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{Backend, TestServer, backend_tests, create_user, get_user, user_id};
use tonic::Code;

backend_tests!(
    units_are_created_renamed_listed_and_deleted_with_clear_errors,
    members_are_added_all_or_nothing_and_removed,
    a_scoped_admin_lists_and_resets_only_members_of_their_unit,
    statements_over_everyone_reach_only_the_members_of_a_scoped_admin,
    help_requests_go_to_the_admins_of_the_persons_unit_first,
    deleting_a_unit_revokes_the_roles_scoped_to_it,
);

async fn create(admin: &Client, name: &str) -> Result<pb::AdministrativeUnit, tonic::Status> {
    admin
        .admin()
        .create_administrative_unit(pb::CreateAdministrativeUnitRequest {
            name: name.to_owned(),
            description: format!("{name} staff"),
        })
        .await
        .map(|r| r.into_inner().unit.expect("unit"))
}

async fn add(admin: &Client, unit: &str, users: &[&str]) -> pb::AddUnitMembersResponse {
    admin
        .admin()
        .add_unit_members(pb::AddUnitMembersRequest {
            unit_id: unit.to_owned(),
            user_ids: users.iter().map(|u| (*u).to_owned()).collect(),
        })
        .await
        .expect("add members")
        .into_inner()
}

async fn scope(admin: &Client, user: &str, role: pb::Role, unit: &str) {
    admin
        .admin()
        .assign_role(pb::AssignRoleRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::UserId(user.to_owned())),
            }),
            role: role as i32,
            unit_id: unit.to_owned(),
        })
        .await
        .expect("scoped assignment");
}

async fn usernames(client: &Client, unit: &str) -> Vec<String> {
    client
        .admin()
        .list_users(pb::ListUsersRequest {
            unit_id: unit.to_owned(),
            ..Default::default()
        })
        .await
        .expect("list users")
        .into_inner()
        .users
        .into_iter()
        .map(|u| u.username)
        .collect()
}

async fn units_are_created_renamed_listed_and_deleted_with_clear_errors(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let north = create(&admin, "North").await.expect("create");
    assert_eq!((north.name.as_str(), north.version), ("North", 1));
    create(&admin, "Finance").await.expect("create");

    let taken = create(&admin, "  nORTH ").await.unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");
    assert!(taken.message().contains("already exists"), "{taken:?}");
    let blank = create(&admin, "   ").await.unwrap_err();
    assert_eq!(blank.code(), Code::InvalidArgument);
    assert!(blank.message().contains("name"), "{blank:?}");
    let long = create(&admin, &"x".repeat(129)).await.unwrap_err();
    assert_eq!(long.code(), Code::InvalidArgument);

    let renamed = admin
        .admin()
        .update_administrative_unit(pb::UpdateAdministrativeUnitRequest {
            unit_id: north.id.clone(),
            version: 1,
            name: Some("North Region".into()),
            ..Default::default()
        })
        .await
        .expect("rename")
        .into_inner()
        .unit
        .expect("unit");
    assert_eq!(
        (renamed.name.as_str(), renamed.version),
        ("North Region", 2)
    );
    assert_eq!(renamed.description, "North staff", "left as it was");
    let stale = admin
        .admin()
        .update_administrative_unit(pb::UpdateAdministrativeUnitRequest {
            unit_id: north.id.clone(),
            version: 1,
            description: Some("late".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

    let listed = admin
        .admin()
        .list_administrative_units(pb::ListAdministrativeUnitsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.units[0].name, "Finance", "by name");
    let rest = admin
        .admin()
        .list_administrative_units(pb::ListAdministrativeUnitsRequest {
            page_size: 1,
            page_token: listed.next_page_token,
        })
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(rest.units[0].name, "North Region");
    assert_eq!(rest.units[0].description, "North staff");

    let bad_id = admin
        .admin()
        .delete_administrative_unit(pb::DeleteAdministrativeUnitRequest {
            unit_id: "north".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_id.code(), Code::InvalidArgument);
    admin
        .admin()
        .delete_administrative_unit(pb::DeleteAdministrativeUnitRequest {
            unit_id: north.id.clone(),
        })
        .await
        .expect("delete");
    let gone = admin
        .admin()
        .delete_administrative_unit(pb::DeleteAdministrativeUnitRequest { unit_id: north.id })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);

    // A tenant-wide password admin reads units but does not manage them.
    let (desk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    desk.admin()
        .list_administrative_units(pb::ListAdministrativeUnitsRequest::default())
        .await
        .expect("any admin lists units");
    let refused = create(&desk, "Desk's own").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

async fn members_are_added_all_or_nothing_and_removed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let unit = create(&admin, "Sales").await.expect("unit").id;
    let ann = create_user(&admin, "ann@contoso.example", &[]).await;
    let bob = create_user(&admin, "bob@contoso.example", &[]).await;
    let cy = create_user(&admin, "cy@contoso.example", &[]).await;

    let unknown = uuid_like(7);
    let refused = admin
        .admin()
        .add_unit_members(pb::AddUnitMembersRequest {
            unit_id: unit.clone(),
            user_ids: vec![ann.clone(), unknown.clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    assert!(refused.message().contains(&unknown), "{refused:?}");
    assert!(
        usernames(&admin, &unit).await.is_empty(),
        "nobody was added"
    );
    let malformed = admin
        .admin()
        .add_unit_members(pb::AddUnitMembersRequest {
            unit_id: unit.clone(),
            user_ids: vec!["ann".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);

    let first = add(&admin, &unit, &[&ann, &ann]).await;
    assert_eq!(
        (first.added, first.already_members),
        (1, 0),
        "a repeat counts once"
    );
    let second = add(&admin, &unit, &[&ann, &bob]).await;
    assert_eq!((second.added, second.already_members), (1, 1));
    let members = admin
        .admin()
        .list_unit_members(pb::ListUnitMembersRequest {
            unit_id: unit.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("members")
        .into_inner();
    assert_eq!(members.users[0].username, "ann@contoso.example");
    assert!(!members.next_page_token.is_empty());

    let removed = admin
        .admin()
        .remove_unit_members(pb::RemoveUnitMembersRequest {
            unit_id: unit.clone(),
            user_ids: vec![ann.clone(), cy],
        })
        .await
        .expect("remove")
        .into_inner();
    assert_eq!((removed.removed, removed.not_members), (1, 1));
    assert_eq!(usernames(&admin, &unit).await, ["bob@contoso.example"]);

    // Deleting a user ends their memberships.
    admin
        .admin()
        .delete_user(pb::DeleteUserRequest {
            id: bob,
            version: 0,
        })
        .await
        .expect("delete bob");
    assert!(usernames(&admin, &unit).await.is_empty());
}

fn uuid_like(n: u128) -> String {
    uuid::Uuid::from_u128(n).to_string()
}

async fn a_scoped_admin_lists_and_resets_only_members_of_their_unit(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let east = create(&admin, "East").await.expect("unit").id;
    let west = create(&admin, "West").await.expect("unit").id;
    let (desk, desk_id) = server
        .user_with_roles(&admin, "desk@contoso.example", &[])
        .await;
    scope(&admin, &desk_id, pb::Role::PasswordAdmin, &east).await;
    let member = create_user(&admin, "erin@contoso.example", &[]).await;
    let outsider = create_user(&admin, "will@contoso.example", &[]).await;
    add(&admin, &east, &[&member]).await;
    add(&admin, &west, &[&outsider]).await;

    // The listing shows members only, however it is asked.
    let everyone = usernames(&desk, "").await;
    assert_eq!(everyone, ["erin@contoso.example"]);
    assert_eq!(usernames(&desk, &east).await, ["erin@contoso.example"]);
    let other_unit = desk
        .admin()
        .list_unit_members(pb::ListUnitMembersRequest {
            unit_id: west.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(other_unit.code(), Code::PermissionDenied);
    let read_outsider = desk
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(user_id(&outsider)),
        })
        .await
        .unwrap_err();
    assert_eq!(read_outsider.code(), Code::PermissionDenied);

    // CanReset names the scope that allows, or the rule that refuses.
    let can = |user: String| {
        let desk = desk.clone();
        async move {
            desk.admin()
                .can_reset(pb::CanResetRequest {
                    user: Some(user_id(&user)),
                })
                .await
                .expect("can reset")
                .into_inner()
        }
    };
    let yes = can(member.clone()).await;
    assert!(yes.allowed);
    assert_eq!(
        (yes.unit_id.as_str(), yes.unit_name.as_str()),
        (east.as_str(), "East")
    );
    let no = can(outsider.clone()).await;
    assert!(!no.allowed);
    assert!(no.reason.contains("administrative unit"), "{}", no.reason);
    let tenant_wide = admin
        .admin()
        .can_reset(pb::CanResetRequest {
            user: Some(user_id(&member)),
        })
        .await
        .expect("can reset")
        .into_inner();
    assert!(tenant_wide.allowed && tenant_wide.unit_id.is_empty());

    let reset = desk
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(&member)),
            ..Default::default()
        })
        .await
        .expect("reset a member")
        .into_inner();
    assert!(!reset.generated_password.is_empty());
    let refused = desk
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(&outsider)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("administrative unit"),
        "{refused:?}"
    );

    // Only user_admin and password_admin can be scoped; the listing shows the scope.
    let global = admin
        .admin()
        .assign_role(pb::AssignRoleRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::UserId(member.clone())),
            }),
            role: pb::Role::GlobalAdmin as i32,
            unit_id: east.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(global.code(), Code::InvalidArgument, "{global:?}");
    let listed = admin
        .admin()
        .list_role_assignments(pb::ListRoleAssignmentsRequest {
            unit_id: east.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .assignments;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].unit_name, "East");
    // The same role over a second unit is a second assignment; twice over one is refused.
    scope(&admin, &desk_id, pb::Role::PasswordAdmin, &west).await;
    let twice = admin
        .admin()
        .assign_role(pb::AssignRoleRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::UserId(desk_id.clone())),
            }),
            role: pb::Role::PasswordAdmin as i32,
            unit_id: west.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    assert_eq!(
        usernames(&desk, "").await,
        ["erin@contoso.example", "will@contoso.example"]
    );
    let me = get_user(&admin, &desk_id).await;
    assert_eq!(
        me.roles,
        [pb::Role::PasswordAdmin as i32],
        "one role, two scopes"
    );
}

async fn statements_over_everyone_reach_only_the_members_of_a_scoped_admin(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let unit = create(&admin, "Warehouse").await.expect("unit").id;
    let (lead, lead_id) = server
        .user_with_roles(&admin, "lead@contoso.example", &[])
        .await;
    scope(&admin, &lead_id, pb::Role::UserAdmin, &unit).await;
    let member = create_user(&admin, "mia@contoso.example", &[]).await;
    let member_admin = create_user(&admin, "max@contoso.example", &[pb::Role::GlobalAdmin]).await;
    let outsider = create_user(&admin, "otto@contoso.example", &[]).await;
    add(&admin, &unit, &[&member, &member_admin, &lead_id]).await;

    let forced = lead
        .admin()
        .require_password_change(pb::RequirePasswordChangeRequest {
            all_users: true,
            ..Default::default()
        })
        .await
        .expect("require change")
        .into_inner();
    assert_eq!(
        forced.affected_users, 1,
        "only mia: not the global admin in the unit, not the caller, not otto"
    );
    let must = |id: String| {
        let admin = admin.clone();
        async move {
            admin
                .admin()
                .get_user(pb::GetUserRequest {
                    user: Some(user_id(&id)),
                })
                .await
                .expect("get")
                .into_inner()
                .user
                .expect("user")
                .password_change_required
        }
    };
    assert!(must(member.clone()).await);
    assert!(!must(outsider.clone()).await);
    assert!(!must(member_admin.clone()).await);

    let mut stream = lead
        .admin()
        .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
            all_users: true,
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("bulk")
        .into_inner();
    let mut results = Vec::new();
    while let Some(message) = stream.message().await.expect("stream") {
        if let Some(pb::bulk_reset_passwords_response::Event::Result(r)) = message.event {
            results.push((r.user_id, r.outcome));
        }
    }
    assert!(
        results.iter().all(|(id, _)| *id != outsider),
        "everyone of a scoped admin is the unit's members: {results:?}"
    );
    assert!(results.contains(&(member, pb::BulkOutcome::WouldReset as i32)));
    assert!(results.contains(&(member_admin, pb::BulkOutcome::Refused as i32)));
}

async fn help_requests_go_to_the_admins_of_the_persons_unit_first(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(backend, |config| sink.configure(config)).await;
    let admin = server.admin().await;
    let unit = create(&admin, "Lab").await.expect("unit").id;
    server
        .user_with_roles(
            &admin,
            "central@contoso.example",
            &[pb::Role::PasswordAdmin],
        )
        .await;
    let (lab_desk, lab_desk_id) = server
        .user_with_roles(&admin, "labdesk@contoso.example", &[])
        .await;
    scope(&admin, &lab_desk_id, pb::Role::PasswordAdmin, &unit).await;
    let member = create_user(&admin, "lena@contoso.example", &[]).await;
    create_user(&admin, "oscar@contoso.example", &[]).await;
    add(&admin, &unit, &[&member]).await;

    for person in ["lena@contoso.example", "oscar@contoso.example"] {
        server
            .client()
            .await
            .self_service()
            .request_admin_help(pb::RequestAdminHelpRequest {
                username: person.into(),
                message: "locked out".into(),
                ..Default::default()
            })
            .await
            .expect("ask");
    }
    let about = |person: &'static str| {
        move |m: &gatehouse_tests::smtp::Mail| {
            m.text().contains(person) && m.text().contains("asks an administrator")
        }
    };
    let lena = sink
        .wait_for_match(0, Duration::from_secs(10), about("lena@contoso.example"))
        .await;
    assert_eq!(lena.to, ["labdesk@contoso.example"], "the unit's own desk");
    let oscar = sink
        .wait_for_match(0, Duration::from_secs(10), about("oscar@contoso.example"))
        .await;
    assert_eq!(
        oscar.to,
        ["central@contoso.example"],
        "no unit: the tenant-wide desk"
    );

    // The unit's desk lists only the member's request.
    let listed = lab_desk
        .admin()
        .list_reset_requests(pb::ListResetRequestsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .requests;
    let names: Vec<&str> = listed.iter().map(|r| r.username.as_str()).collect();
    assert_eq!(names, ["lena@contoso.example"]);
}

async fn deleting_a_unit_revokes_the_roles_scoped_to_it(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let unit = create(&admin, "Temp").await.expect("unit").id;
    let (desk, desk_id) = server
        .user_with_roles(&admin, "temp@contoso.example", &[])
        .await;
    scope(&admin, &desk_id, pb::Role::PasswordAdmin, &unit).await;
    let member = create_user(&admin, "tia@contoso.example", &[]).await;
    add(&admin, &unit, &[&member]).await;
    desk.admin()
        .get_user(pb::GetUserRequest {
            user: Some(user_id(&member)),
        })
        .await
        .expect("reads a member while the unit exists");

    let deleted = admin
        .admin()
        .delete_administrative_unit(pb::DeleteAdministrativeUnitRequest {
            unit_id: unit.clone(),
        })
        .await
        .expect("delete")
        .into_inner();
    assert_eq!(deleted.revoked_assignments, 1);
    let left = admin
        .admin()
        .list_role_assignments(pb::ListRoleAssignmentsRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::UserId(desk_id)),
            }),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .assignments;
    assert!(left.is_empty(), "{left:?}");
    let after = desk
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(user_id(&member)),
        })
        .await
        .unwrap_err();
    assert_eq!(after.code(), Code::PermissionDenied, "no role is left");
    let audited = admin
        .admin()
        .list_audit_events(pb::ListAuditEventsRequest {
            action: "unit.delete".into(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .events;
    assert_eq!(audited.len(), 1);
    assert!(audited[0].details_json.contains("revoked_assignments"));
}
