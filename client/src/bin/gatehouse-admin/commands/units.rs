//! `units list|create|update|delete|add|remove|members`.

use gatehouse_client::pb;
use serde_json::{Value, json};

use super::Context;
use super::users::done;
use crate::args::UnitsCommand;
use crate::output::{Failure, Table, print_json, time, unit_json};

pub(super) async fn run(context: &Context, command: UnitsCommand) -> Result<(), Failure> {
    match command {
        UnitsCommand::List => list(context).await,
        UnitsCommand::Create { name, description } => {
            let unit = context
                .check(
                    &format!("cannot create the unit {name}"),
                    context
                        .client()?
                        .calls()
                        .create_administrative_unit(pb::CreateAdministrativeUnitRequest {
                            name: name.clone(),
                            description,
                        })
                        .await,
                )?
                .unit
                .unwrap_or_default();
            done(
                context,
                unit_json(&unit),
                &format!("created the unit {} ({})", unit.name, unit.id),
            );
            Ok(())
        }
        UnitsCommand::Update {
            unit,
            name,
            description,
        } => {
            if name.is_none() && description.is_none() {
                return Err(Failure::usage(
                    "nothing to change: give --name or --description",
                ));
            }
            let current = context.unit(&unit).await?;
            let updated = context
                .check(
                    &format!("cannot change the unit {unit}"),
                    context
                        .client()?
                        .calls()
                        .update_administrative_unit(pb::UpdateAdministrativeUnitRequest {
                            unit_id: current.id,
                            version: current.version,
                            name,
                            description,
                        })
                        .await,
                )?
                .unit
                .unwrap_or_default();
            done(
                context,
                unit_json(&updated),
                &format!("the unit is now {}", updated.name),
            );
            Ok(())
        }
        UnitsCommand::Delete { unit } => {
            let current = context.unit(&unit).await?;
            let response = context.check(
                &format!("cannot delete the unit {unit}"),
                context
                    .client()?
                    .calls()
                    .delete_administrative_unit(pb::DeleteAdministrativeUnitRequest {
                        unit_id: current.id.clone(),
                    })
                    .await,
            )?;
            done(
                context,
                json!({"id": current.id, "deleted": true, "revoked_assignments": response.revoked_assignments}),
                &format!(
                    "deleted the unit {} and {} role assignment(s) scoped to it",
                    current.name, response.revoked_assignments
                ),
            );
            Ok(())
        }
        UnitsCommand::Add { unit, users } => members(context, &unit, &users, true).await,
        UnitsCommand::Remove { unit, users } => members(context, &unit, &users, false).await,
        UnitsCommand::Members { unit, limit } => {
            let current = context.unit(&unit).await?;
            super::users::list(context, None, Some(current.id), None, limit).await
        }
    }
}

/// Adds users to a unit, or takes them out.
async fn members(
    context: &Context,
    unit: &str,
    users: &[String],
    add: bool,
) -> Result<(), Failure> {
    let current = context.unit(unit).await?;
    let mut ids = Vec::with_capacity(users.len());
    for user in users {
        ids.push(context.user_id(user).await?);
    }
    let calls = context.client()?.calls();
    let (changed, unchanged) = if add {
        let response = context.check(
            &format!("cannot add users to the unit {unit}"),
            calls
                .add_unit_members(pb::AddUnitMembersRequest {
                    unit_id: current.id.clone(),
                    user_ids: ids,
                })
                .await,
        )?;
        (response.added, response.already_members)
    } else {
        let response = context.check(
            &format!("cannot take users out of the unit {unit}"),
            calls
                .remove_unit_members(pb::RemoveUnitMembersRequest {
                    unit_id: current.id.clone(),
                    user_ids: ids,
                })
                .await,
        )?;
        (response.removed, response.not_members)
    };
    let (verb, key, rest) = if add {
        ("added", "already_members", "already members")
    } else {
        ("removed", "not_members", "were not members")
    };
    done(
        context,
        Value::Object(serde_json::Map::from_iter([
            ("unit_id".to_owned(), Value::String(current.id.clone())),
            (verb.to_owned(), Value::from(changed)),
            (key.to_owned(), Value::from(unchanged)),
        ])),
        &format!("{verb} {changed} ({unchanged} {rest}) in {}", current.name),
    );
    Ok(())
}

async fn list(context: &Context) -> Result<(), Failure> {
    let units = context.all_units().await?;
    if context.json {
        print_json(&Value::Array(units.iter().map(unit_json).collect()));
        return Ok(());
    }
    let mut table = Table::new(&["NAME", "DESCRIPTION", "UPDATED", "ID"]);
    for u in &units {
        table.row(vec![
            u.name.clone(),
            u.description.clone(),
            time(u.update_time.as_ref()),
            u.id.clone(),
        ]);
    }
    table.print();
    Ok(())
}
