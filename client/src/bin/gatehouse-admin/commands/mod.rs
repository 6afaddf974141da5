//! One module per command group; [`run`] dispatches.

mod admin;
mod login;
mod passwords;
mod report;
mod tenants;
mod units;
mod users;

use gatehouse_client::{CallError, Client, Code, pb};

use crate::args::{Cli, Command};
use crate::config::Connection;
use crate::output::Failure;
use crate::session;

/// What every command works with.
pub(crate) struct Context {
    pub(crate) connection: Connection,
    /// The connection, with the saved session when there is one for this endpoint; or why
    /// there is none (reported by the first command that needs it, so that a bad input file
    /// is named before a missing certificate).
    client: Result<Client, Failure>,
    pub(crate) json: bool,
    /// Why there is no session, when there is none.
    no_session: Option<String>,
}

impl Context {
    pub(crate) fn client(&self) -> Result<&Client, Failure> {
        self.client.as_ref().map_err(Clone::clone)
    }

    /// A failed call as a [`Failure`]; when no session was sent, a refusal says so.
    pub(crate) fn fail(&self, doing: &str, error: &CallError) -> Failure {
        let failure = Failure::call(doing, error);
        match (&self.no_session, error.code()) {
            (Some(why), Code::PermissionDenied | Code::Unauthenticated) => {
                failure.with_hint(format!("{why}: run `gatehouse-admin login`"))
            }
            _ => failure,
        }
    }

    /// Adds the step to a call's error (see [`Context::fail`]).
    pub(crate) fn check<T>(&self, doing: &str, result: Result<T, CallError>) -> Result<T, Failure> {
        result.map_err(|e| self.fail(doing, &e))
    }

    /// One user, by username or id.
    pub(crate) async fn user(&self, user: &str) -> Result<pb::User, Failure> {
        let response = self.check(
            &format!("cannot read user {user}"),
            self.client()?
                .calls()
                .get_user(pb::GetUserRequest {
                    user: Some(pb::UserRef::from_name_or_id(user)),
                })
                .await,
        )?;
        response
            .user
            .ok_or_else(|| Failure::other(format!("the server sent no user for {user}")))
    }
}

impl Context {
    /// Every administrative unit of the tenant, by name (all pages).
    pub(crate) async fn all_units(&self) -> Result<Vec<pb::AdministrativeUnit>, Failure> {
        let mut units = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self.check(
                "cannot list administrative units",
                self.client()?
                    .calls()
                    .list_administrative_units(pb::ListAdministrativeUnitsRequest {
                        page_size: 500,
                        page_token,
                    })
                    .await,
            )?;
            units.extend(page.units);
            if page.next_page_token.is_empty() {
                return Ok(units);
            }
            page_token = page.next_page_token;
        }
    }

    /// One administrative unit, by id or by name (whatever the case).
    pub(crate) async fn unit(&self, unit: &str) -> Result<pb::AdministrativeUnit, Failure> {
        self.all_units()
            .await?
            .into_iter()
            .find(|u| u.id == unit || u.name.to_lowercase() == unit.to_lowercase())
            .ok_or_else(|| {
                Failure::other(format!(
                    "no administrative unit named {unit}: see `gatehouse-admin units list`"
                ))
            })
    }

    /// The id of a user named by username or id (an id is taken as it is).
    pub(crate) async fn user_id(&self, user: &str) -> Result<String, Failure> {
        if uuid_like(user) {
            return Ok(user.to_owned());
        }
        Ok(self.user(user).await?.id)
    }
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36
        && text.chars().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

pub(crate) async fn run(cli: Cli) -> Result<(), Failure> {
    let connection = Connection::resolve(&cli.connection)?;
    let bare = connection.client();
    // A damaged session file must not stand in the way of the two commands that fix it:
    // `login` writes a new one over it, `logout` removes it. Any other command stops here.
    let saved = match (session::load(), &cli.command) {
        (Ok(saved), _) => Ok(saved),
        (Err(failure), Command::Login(_)) => {
            eprintln!("warning: {failure}; signing in replaces it");
            Ok(None)
        }
        (Err(failure), Command::Logout) => Err(failure),
        (Err(failure), _) => return Err(failure),
    };
    let (client, no_session) = match &saved {
        Ok(Some(saved)) if saved.endpoint == connection.endpoint => {
            (bare.map(|c| c.with_session_token(&saved.token())), None)
        }
        Ok(Some(saved)) => (
            bare,
            Some(format!(
                "your session is for {}, not {}",
                saved.endpoint, connection.endpoint
            )),
        ),
        Ok(None) | Err(_) => (bare, Some("not signed in".to_owned())),
    };
    let context = Context {
        connection,
        client,
        json: cli.json,
        no_session,
    };
    match cli.command {
        Command::Login(args) => login::login(&context, args).await,
        Command::Logout => login::logout(&context, saved).await,
        Command::Users(command) => users::run(&context, command).await,
        Command::Passwords(command) => passwords::run(&context, command).await,
        Command::Policy(command) => admin::policy(&context, command).await,
        Command::Requests(command) => admin::requests(&context, command).await,
        Command::Roles(command) => admin::roles(&context, command).await,
        Command::Audit(command) => admin::audit(&context, command).await,
        Command::Tenants(command) => tenants::run(&context, command).await,
        Command::Units(command) => units::run(&context, command).await,
        Command::Report(command) => report::run(&context, command).await,
    }
}
