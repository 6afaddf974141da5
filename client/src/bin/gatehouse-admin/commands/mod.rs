//! One module per command group; [`run`] dispatches.

mod admin;
mod login;
mod passwords;
mod tenants;
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
    }
}
