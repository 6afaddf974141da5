//! `tenants list|create`.

use gatehouse_client::pb;
use serde_json::{Value, json};

use super::Context;
use crate::args::TenantsCommand;
use crate::output::{
    Failure, Table, print_fields, print_json, tenant_fields, tenant_json, time, yes_no,
};

pub(super) async fn run(context: &Context, command: TenantsCommand) -> Result<(), Failure> {
    match command {
        TenantsCommand::List => {
            let tenants = context
                .check(
                    "cannot list tenants",
                    context
                        .client()?
                        .calls()
                        .list_tenants(pb::ListTenantsRequest {})
                        .await,
                )?
                .tenants;
            if context.json {
                print_json(&Value::Array(tenants.iter().map(tenant_json).collect()));
                return Ok(());
            }
            let mut table = Table::new(&["NAME", "DOMAIN", "DEFAULT", "CREATED", "ID"]);
            for t in &tenants {
                table.row(vec![
                    t.name.clone(),
                    t.primary_domain.clone(),
                    yes_no(t.is_default).to_owned(),
                    time(t.create_time.as_ref()),
                    t.id.clone(),
                ]);
            }
            table.print();
            Ok(())
        }
        TenantsCommand::Create {
            name,
            domain,
            admin,
        } => {
            let response = context.check(
                &format!("cannot create tenant {name}"),
                context
                    .client()?
                    .calls()
                    .create_tenant(pb::CreateTenantRequest {
                        name: name.clone(),
                        primary_domain: domain,
                        admin_username: admin.clone(),
                    })
                    .await,
            )?;
            let tenant = response.tenant.unwrap_or_default();
            let password = response.admin_one_time_password;
            if context.json {
                let mut value = tenant_json(&tenant);
                value["admin_username"] = json!(admin);
                value["admin_one_time_password"] = json!(password);
                print_json(&value);
                return Ok(());
            }
            print_fields(&tenant_fields(&tenant));
            // Shown once: the server keeps only its hash.
            println!("one-time password for {admin}: {password}");
            println!(
                "{admin} signs in with it and must change it at once; it expires after the \
                 policy's temporary_password_hours"
            );
            Ok(())
        }
    }
}
