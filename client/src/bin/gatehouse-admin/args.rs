//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Connection: flags, then GATEHOUSE_* environment variables, then the config file
(--config, GATEHOUSE_ADMIN_CONFIG, or $XDG_CONFIG_HOME/gatehouse/admin.toml), then the
defaults of `gatehouse serve --dev` run in the current directory
(https://127.0.0.1:50051 and ./gatehouse-data/certs/{ca.pem,client.pem,client.key}).

`login` keeps the session in $XDG_CONFIG_HOME/gatehouse/session.toml (or
~/.config/gatehouse/session.toml), readable by you alone; `logout` revokes it.

Exit codes:
  0  done
  1  failed (the message says why)
  2  usage error (unknown command or flag, missing argument)
  3  not signed in, session expired, or not allowed (UNAUTHENTICATED, PERMISSION_DENIED)
  4  not found";

/// Administer a Gatehouse server: users, passwords, roles, policy, help requests, the audit
/// log and tenants.
#[derive(Debug, Parser)]
#[command(name = "gatehouse-admin", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,

    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where the server is and how to reach it.
#[derive(Debug, Args)]
pub(crate) struct ConnectionArgs {
    /// Server address [default: https://127.0.0.1:50051].
    #[arg(
        long,
        global = true,
        hide_env_values = true,
        env = "GATEHOUSE_ENDPOINT",
        value_name = "URL"
    )]
    pub(crate) endpoint: Option<String>,

    /// CA certificate that signed the server's certificate (PEM)
    /// [default: gatehouse-data/certs/ca.pem].
    #[arg(
        long,
        global = true,
        hide_env_values = true,
        env = "GATEHOUSE_CA",
        value_name = "FILE"
    )]
    pub(crate) ca: Option<PathBuf>,

    /// Client certificate (PEM) [default: gatehouse-data/certs/client.pem].
    #[arg(
        long,
        global = true,
        hide_env_values = true,
        env = "GATEHOUSE_CLIENT_CERT",
        value_name = "FILE"
    )]
    pub(crate) cert: Option<PathBuf>,

    /// Client certificate's private key (PEM) [default: gatehouse-data/certs/client.key].
    #[arg(
        long,
        global = true,
        hide_env_values = true,
        env = "GATEHOUSE_CLIENT_KEY",
        value_name = "FILE"
    )]
    pub(crate) key: Option<PathBuf>,

    /// Name the server certificate must carry, when it is not the endpoint's host.
    #[arg(
        long,
        global = true,
        hide_env_values = true,
        env = "GATEHOUSE_SERVER_NAME",
        value_name = "NAME"
    )]
    pub(crate) server_name: Option<String>,

    /// Config file (TOML) with the settings above.
    #[arg(
        long,
        global = true,
        hide_env_values = true,
        env = "GATEHOUSE_ADMIN_CONFIG",
        value_name = "FILE"
    )]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Sign in and keep the session for the other commands.
    Login(LoginArgs),
    /// Revoke the session and forget it.
    Logout,
    /// Users of the tenant.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Password resets and forced changes.
    #[command(subcommand)]
    Passwords(PasswordsCommand),
    /// The tenant's password policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// "Contact an administrator" requests.
    #[command(subcommand)]
    Requests(RequestsCommand),
    /// Role assignments.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Tenants (for global admins of the default tenant).
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Administrative units: sets of users a role can be scoped to.
    #[command(subcommand)]
    Units(UnitsCommand),
    /// Reports from the audit log.
    #[command(subcommand)]
    Report(ReportCommand),
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Your username (asked when not given).
    pub(crate) username: Option<String>,
    /// Read the password from the first line of standard input (and, when it must be
    /// changed, the new one from the second) instead of asking.
    #[arg(long)]
    pub(crate) password_stdin: bool,
    /// The tenant, by id or name (default: the one your username's domain names).
    #[arg(long, env = "GATEHOUSE_TENANT", hide_env_values = true)]
    pub(crate) tenant: Option<String>,
    /// When your tenant asks you to register security info, put it off (one of your
    /// snoozes) instead of keeping a registration-only session.
    #[arg(long)]
    pub(crate) snooze_registration: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// List users, ordered by username.
    List {
        /// Only users in this state.
        #[arg(long, value_enum)]
        state: Option<UserStateArg>,
        /// Only members of this administrative unit (name or id).
        #[arg(long)]
        unit: Option<String>,
        /// Only users in this registration state (security info for self-service reset).
        #[arg(long, value_enum)]
        registration: Option<RegistrationArg>,
        /// At most this many users [default: all].
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show one user.
    Show {
        /// Username or id.
        user: String,
    },
    /// Create a user (without a password: give one with `passwords reset`).
    Create {
        /// The sign-in name, e-mail-like.
        username: String,
        /// The name shown to people [default: the username].
        #[arg(long)]
        display_name: Option<String>,
        /// Where notices for the person go.
        #[arg(long)]
        email: Option<String>,
    },
    /// Change a user's profile.
    Update {
        /// Username or id.
        user: String,
        /// New sign-in name.
        #[arg(long)]
        username: Option<String>,
        /// New display name.
        #[arg(long)]
        display_name: Option<String>,
        /// New contact email ("" clears it).
        #[arg(long)]
        email: Option<String>,
        /// Exempt the user from the maximum password age (true or false).
        #[arg(long)]
        password_never_expires: Option<bool>,
    },
    /// Block sign-in and revoke the user's sessions.
    Block {
        /// Username or id.
        user: String,
    },
    /// Allow a blocked user to sign in again.
    Unblock {
        /// Username or id.
        user: String,
    },
    /// Delete a user with their credentials, sessions and roles.
    Delete {
        /// Username or id.
        user: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Clear a lock-out after too many failed sign-ins.
    Unlock {
        /// Username or id.
        user: String,
    },
    /// Sign the user out everywhere: revoke every session of theirs.
    RevokeSessions {
        /// Username or id.
        user: String,
    },
    /// List the user's verification methods (masked).
    Methods {
        /// Username or id.
        user: String,
    },
    /// Remove every verification method of the user (after a lost phone, say).
    ///
    /// The person is told at their contact address; they register new ones themselves.
    ClearMethods {
        /// Username or id.
        user: String,
    },
    /// Email everyone who has not registered security info one reminder to do so.
    ///
    /// Only people you may reset, who may sign in and were not reminded in the last 24 hours.
    RemindRegistration {
        /// Only members of this administrative unit (name or id).
        #[arg(long)]
        unit: Option<String>,
        /// Remind people whose reconfirmation is due as well.
        #[arg(long)]
        include_reconfirm_due: bool,
        /// Count who would be reminded; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PasswordsCommand {
    /// Reset one user's password; prints the temporary password once.
    Reset {
        /// Username or id.
        user: String,
        /// Email the person an invitation code instead of showing a password.
        #[arg(long)]
        invite: bool,
        /// Read the new password from standard input instead of generating one.
        #[arg(long, conflicts_with = "invite")]
        password_stdin: bool,
        /// Do not require a change at next sign-in (only with --password-stdin).
        #[arg(long, requires = "password_stdin")]
        no_require_change: bool,
    },
    /// Require a password change at next sign-in.
    RequireChange {
        /// Every user of the tenant.
        #[arg(long, conflicts_with = "users", required_unless_present = "users")]
        all: bool,
        /// Usernames or ids.
        users: Vec<String>,
        /// Also revoke their sessions, so the change happens now.
        #[arg(long)]
        revoke_sessions: bool,
    },
    /// Reset many passwords from a file; writes one row per user to a results file.
    BulkReset(BulkResetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct BulkResetArgs {
    /// A CSV file with a `username` column, or one username per line.
    #[arg(long, value_name = "FILE")]
    pub(crate) from: PathBuf,
    /// The results file (CSV, created readable by you alone; must not exist yet). Required
    /// unless --dry-run, which prints the results instead.
    #[arg(long, value_name = "FILE", required_unless_present = "dry_run")]
    pub(crate) out: Option<PathBuf>,
    /// Report who would be reset and who refused; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Makes a repeated run continue the first instead of starting over (default: a new key,
    /// printed if the run is cut short).
    #[arg(long, value_name = "KEY")]
    pub(crate) idempotency_key: Option<String>,
    /// Email each person an invitation code instead of generating passwords.
    #[arg(long)]
    pub(crate) invite: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Show the password policy.
    Show,
    /// Change settings of the password policy; the others keep their value.
    Set(PolicySetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PolicySetArgs {
    /// Fewest characters (at least 8).
    #[arg(long)]
    pub(crate) min_length: Option<i32>,
    /// Most characters (at least 64).
    #[arg(long)]
    pub(crate) max_length: Option<i32>,
    /// Lowest zxcvbn score accepted, 0 to 4.
    #[arg(long)]
    pub(crate) min_strength_score: Option<i32>,
    /// Words a password may not contain, comma-separated ("" clears them).
    #[arg(long, value_name = "WORDS")]
    pub(crate) banned_terms: Option<String>,
    /// Previous passwords that may not be reused.
    #[arg(long)]
    pub(crate) history_count: Option<i32>,
    /// Days until a password expires (0: never).
    #[arg(long)]
    pub(crate) max_age_days: Option<i32>,
    /// Days before expiry that a reminder goes out.
    #[arg(long)]
    pub(crate) expiry_reminder_days: Option<i32>,
    /// Failed sign-ins that lock an account (0: no lock-out).
    #[arg(long)]
    pub(crate) lockout_threshold: Option<i32>,
    /// Seconds of the first lock-out.
    #[arg(long)]
    pub(crate) lockout_seconds: Option<i32>,
    /// Longest lock-out in seconds.
    #[arg(long)]
    pub(crate) lockout_max_seconds: Option<i32>,
    /// Hours a temporary password works.
    #[arg(long)]
    pub(crate) temporary_password_hours: Option<i32>,
    /// Hours an invitation code works.
    #[arg(long)]
    pub(crate) invitation_hours: Option<i32>,
    /// Minutes a reset code works.
    #[arg(long)]
    pub(crate) reset_code_minutes: Option<i32>,
    /// Wrong codes allowed per reset flow.
    #[arg(long)]
    pub(crate) reset_code_attempts: Option<i32>,
    /// Verification methods a self-service reset must prove (1 or 2).
    #[arg(long)]
    pub(crate) reset_methods_required: Option<i32>,
    /// Email a person when an administrator resets their password (true or false).
    #[arg(long, value_name = "BOOL")]
    pub(crate) notify_person_on_admin_reset: Option<bool>,
    /// Email every global admin when an administrator's password is reset or changed
    /// (true or false).
    #[arg(long, value_name = "BOOL")]
    pub(crate) notify_admins_on_admin_password_change: Option<bool>,
    /// At sign-in, make a person whose password is on the compromised list change it (true or
    /// false).
    #[arg(long, value_name = "BOOL")]
    pub(crate) compromised_check_at_sign_in: Option<bool>,
    /// Make people register security info at sign-in (true or false).
    #[arg(long, value_name = "BOOL")]
    pub(crate) require_registration: Option<bool>,
    /// How many times a person may put registering off (0 to 10).
    #[arg(long)]
    pub(crate) registration_snoozes: Option<i32>,
    /// Days a snooze lasts (0 to 14; 0 asks again at the next sign-in).
    #[arg(long)]
    pub(crate) registration_snooze_days: Option<i32>,
    /// Days after which a method must be confirmed again (0 = never, up to 730).
    #[arg(long)]
    pub(crate) reconfirm_days: Option<i32>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RequestsCommand {
    /// List requests, newest first.
    List {
        /// Only requests in this state.
        #[arg(long, value_enum)]
        state: Option<RequestStateArg>,
        /// At most this many [default: all].
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Resolve an open request.
    Resolve {
        /// The request id.
        id: String,
        /// What to do: reset (a temporary password, printed once), invite (email a code),
        /// or dismiss.
        #[arg(value_enum)]
        resolution: ResolutionArg,
        /// A note for the record.
        #[arg(long, default_value = "")]
        comment: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RolesCommand {
    /// List role assignments.
    List {
        /// Only this user's (username or id).
        #[arg(long)]
        user: Option<String>,
        /// Only this role.
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Only assignments scoped to this administrative unit (name or id).
        #[arg(long)]
        unit: Option<String>,
    },
    /// Give a user or a service a role.
    Assign(RoleChangeArgs),
    /// Take a role away.
    Revoke(RoleChangeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RoleChangeArgs {
    /// The role.
    #[arg(value_enum)]
    pub(crate) role: RoleArg,
    /// The user (username or id).
    #[arg(long, required_unless_present = "service", conflicts_with = "service")]
    pub(crate) user: Option<String>,
    /// A service, by its client certificate identity.
    #[arg(long)]
    pub(crate) service: Option<String>,
    /// Scope the role to this administrative unit (name or id): it then reaches only the
    /// unit's members. Only user-admin and password-admin can be scoped.
    #[arg(long)]
    pub(crate) unit: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List audit events, newest first.
    List {
        /// Only events by this actor (`user:<id>`, `service:<name>`, `anonymous`, `system`).
        #[arg(long)]
        actor: Option<String>,
        /// Only events on this target (`user:<id>`, …).
        #[arg(long)]
        target: Option<String>,
        /// Only this action (`password.reset`, `session.sign_in`, …).
        #[arg(long)]
        action: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Check the hash chain; exits 1 when an event was edited, removed or reordered.
    Verify,
    /// Follow the log: print each event as it commits, oldest first, until interrupted
    /// (with --json, one JSON object per line, for jq or a log shipper). Reconnects by
    /// itself and continues after the last event printed.
    Tail {
        /// Start after this sequence number (0: with the first event kept); without it,
        /// with the next new event.
        #[arg(long, value_name = "SEQ")]
        since: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TenantsCommand {
    /// List every tenant, oldest first.
    List,
    /// Create a tenant with its first global admin; prints that admin's one-time password
    /// once.
    Create {
        /// A unique name.
        #[arg(long)]
        name: String,
        /// Its unique primary domain: usernames under it sign in to this tenant.
        #[arg(long, value_name = "DOMAIN")]
        domain: String,
        /// Username of the first global admin, under the domain.
        #[arg(long, value_name = "USERNAME")]
        admin: String,
    },
}

/// A user state, as typed.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum UserStateArg {
    /// May sign in.
    Active,
    /// Sign-in blocked.
    Blocked,
}

/// A registration state, as typed.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum RegistrationArg {
    /// Enough current verification methods.
    Registered,
    /// Too few confirmed verification methods.
    NotRegistered,
    /// Enough methods, but too few confirmed recently enough.
    ReconfirmDue,
}

/// A request state, as typed.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum RequestStateArg {
    /// Waiting for an administrator.
    Open,
    /// Resolved with a reset or an invitation.
    Completed,
    /// Closed without a reset.
    Dismissed,
}

/// A resolution, as typed.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ResolutionArg {
    /// A temporary password, printed once.
    Reset,
    /// Email the person an invitation code.
    Invite,
    /// Close without a reset.
    Dismiss,
}

/// A role, as typed.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum RoleArg {
    /// Everything.
    GlobalAdmin,
    /// Users and their passwords.
    UserAdmin,
    /// The help desk: passwords.
    PasswordAdmin,
    /// Reads everything, changes nothing.
    Auditor,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum UnitsCommand {
    /// List the tenant's units by name.
    List,
    /// Create a unit.
    Create {
        /// Its name, unique in the tenant.
        name: String,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Rename a unit or change its description.
    Update {
        /// The unit (name or id).
        unit: String,
        /// The new name.
        #[arg(long)]
        name: Option<String>,
        /// The new description ("" clears it).
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a unit: its members stay, the roles scoped to it are revoked.
    Delete {
        /// The unit (name or id).
        unit: String,
    },
    /// Make users members of a unit.
    Add {
        /// The unit (name or id).
        unit: String,
        /// Usernames or ids.
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Take users out of a unit.
    Remove {
        /// The unit (name or id).
        unit: String,
        /// Usernames or ids.
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// List a unit's members.
    Members {
        /// The unit (name or id).
        unit: String,
        /// At most this many users [default: all].
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Password activity per day (or hour) in UTC: resets by kind, self-service resets,
    /// changes, lock-outs, help requests, blocked attempts, and who reset the most.
    Passwords {
        /// The first day or instant counted (`2026-11-01` or RFC 3339) [default: 30 days
        /// before --to].
        #[arg(long)]
        from: Option<String>,
        /// The first day or instant not counted [default: now].
        #[arg(long)]
        to: Option<String>,
        /// Per hour instead of per day.
        #[arg(long)]
        hourly: bool,
        /// How many top resetters to list.
        #[arg(long, default_value_t = 10)]
        top: u32,
    },
}
