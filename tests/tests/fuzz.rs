//! Generated requests for every RPC of the contract, sent over mTLS to a real server on each
//! database, as every kind of caller: an anonymous service, a person without a role and each
//! administrative role.
//!
//! Requests are generated from the server's own descriptors (so an RPC added to the proto is
//! fuzzed without anyone listing it) with seeded randomness: boundary strings (empty, huge,
//! NUL, bidirectional overrides, combining marks, invalid UTF-8), numbers (0, −1, extremes),
//! unknown enum values, missing or several-set oneofs, random page tokens and timestamps. For
//! every answer: never INTERNAL or UNKNOWN; a refused call leaves every row one can read back
//! unchanged; no ERROR line is logged; the server stays SERVING. Then bytes that are not
//! protobuf and a message nested past the decoder's limit go to every method.
//!
//! `GATEHOUSE_FUZZ_CASES` sets the cases per RPC and caller (default 6); `GATEHOUSE_FUZZ_SEED`
//! replays a run. Its own test binary, because it installs the process-wide log subscriber.

use gatehouse::store::entities::{
    password_credential, password_policy, role_assignment, tenant, user, verification_method,
};
use gatehouse_client::{Client, pb};
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests};
use prost::Message as _;
use prost::bytes::{Buf as _, BufMut as _};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use sea_orm::{Database, DatabaseConnection, EntityTrait as _, QueryOrder as _};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;

backend_tests!(generated_requests_of_every_rpc_never_fail_the_server);

/// Messages passed through as bytes, so any bytes at all can be sent.
#[derive(Clone, Copy, Debug, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = buf.remaining();
        Ok(Some(buf.copy_to_bytes(n).to_vec()))
    }
}

/// One RPC of the contract.
struct Method {
    path: String,
    input: String,
    streaming: bool,
}

fn descriptors() -> FileDescriptorSet {
    FileDescriptorSet::decode(gatehouse::grpc::pb::FILE_DESCRIPTOR_SET).expect("descriptors")
}

fn methods(fds: &FileDescriptorSet) -> Vec<Method> {
    let mut methods = Vec::new();
    for file in &fds.file {
        for service in &file.service {
            for method in &service.method {
                methods.push(Method {
                    path: format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                    input: method.input_type().to_owned(),
                    streaming: method.server_streaming(),
                });
            }
        }
    }
    methods
}

fn message<'a>(fds: &'a FileDescriptorSet, name: &str) -> Option<&'a DescriptorProto> {
    let name = name.trim_start_matches('.');
    fds.file.iter().find_map(|file| {
        let local = name.strip_prefix(&format!("{}.", file.package()))?;
        file.message_type.iter().find(|m| m.name() == local)
    })
}

/// Generates encoded messages from the descriptors.
struct Generator<'a> {
    fds: &'a FileDescriptorSet,
    rng: StdRng,
    names: Vec<String>,
}

impl Generator<'_> {
    fn string(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..14) {
            0 => Vec::new(),
            1 => b"a".to_vec(),
            2 => {
                let i = self.rng.random_range(0..self.names.len());
                self.names[i].clone().into_bytes()
            }
            3 => "nul\0inside@contoso.example".as_bytes().to_vec(),
            4 => "\u{202E}evil\u{202C}@contoso.example".as_bytes().to_vec(),
            5 => "e\u{301}\u{301}\u{301}\u{20DD}".as_bytes().to_vec(),
            6 => "\u{FEFF}\u{FFFF}\u{1F600}".as_bytes().to_vec(),
            // Not UTF-8 at all.
            7 => vec![0xff, 0xfe, b'a'],
            8 => "x".repeat(self.rng.random_range(1000..5000)).into_bytes(),
            9 => "line\nbreak\ttab\r".as_bytes().to_vec(),
            10 => uuid::Uuid::new_v4().to_string().into_bytes(),
            11 => uuid::Uuid::nil().to_string().into_bytes(),
            12 => b"v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_vec(),
            _ => "  spaced out  ".as_bytes().to_vec(),
        }
    }

    fn varint(&mut self) -> u64 {
        let picks = [
            0u64,
            1,
            2,
            3,
            u64::MAX, // -1 as int32/int64
            i32::MAX as u64,
            i64::MAX as u64,
            (i32::MIN as i64) as u64,
            99,
            1000,
            100_000,
        ];
        if self.rng.random_bool(0.2) {
            self.rng.random()
        } else {
            picks[self.rng.random_range(0..picks.len())]
        }
    }

    fn value(&mut self, field: &FieldDescriptorProto, depth: usize, out: &mut Vec<u8>) {
        let number = u64::from(u32::try_from(field.number()).unwrap_or(1));
        match field.r#type() {
            Type::String | Type::Bytes => {
                let bytes = self.string();
                length_delimited(number, &bytes, out);
            }
            Type::Message => {
                let nested = if depth < 3 {
                    self.message(field.type_name(), depth + 1)
                } else {
                    Vec::new()
                };
                length_delimited(number, &nested, out);
            }
            Type::Bool => {
                varint(number << 3, out);
                varint(u64::from(self.rng.random_bool(0.5)), out);
            }
            Type::Double | Type::Fixed64 | Type::Sfixed64 => {
                varint((number << 3) | 1, out);
                out.extend_from_slice(&self.varint().to_le_bytes());
            }
            Type::Float | Type::Fixed32 | Type::Sfixed32 => {
                varint((number << 3) | 5, out);
                out.extend_from_slice(&(self.varint() as u32).to_le_bytes());
            }
            _ => {
                varint(number << 3, out);
                let v = self.varint();
                varint(v, out);
            }
        }
    }

    /// A random, encoded `name` message (a Timestamp too: out-of-range values included).
    fn message(&mut self, name: &str, depth: usize) -> Vec<u8> {
        let mut out = Vec::new();
        if name == ".google.protobuf.Timestamp" {
            varint(1 << 3, &mut out);
            let seconds = self.varint();
            varint(seconds, &mut out);
            varint(2 << 3, &mut out);
            let nanos = self.varint();
            varint(nanos, &mut out);
            return out;
        }
        let Some(descriptor) = message(self.fds, name) else {
            return out;
        };
        let mut oneof_set = vec![false; descriptor.oneof_decl.len()];
        for field in &descriptor.field {
            if let Some(index) = field.oneof_index.filter(|_| !field.proto3_optional()) {
                // Usually one of a oneof, sometimes none, now and then several.
                let slot = &mut oneof_set[usize::try_from(index).unwrap_or(0)];
                if (*slot && !self.rng.random_bool(0.1)) || self.rng.random_bool(0.3) {
                    continue;
                }
                *slot = true;
            } else if self.rng.random_bool(0.25) {
                continue;
            }
            let count = if field.label() == Label::Repeated {
                self.rng.random_range(0..4)
            } else {
                1
            };
            for _ in 0..count {
                self.value(field, depth, &mut out);
            }
        }
        out
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn length_delimited(number: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint((number << 3) | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Sends `body` to `method` as `client` (with its session, if any); the answer's code.
async fn call(client: &Client, token: Option<&str>, method: &Method, body: Vec<u8>) -> Code {
    let mut grpc = tonic::client::Grpc::new(client.channel());
    if grpc.ready().await.is_err() {
        return Code::Unavailable;
    }
    let mut request = tonic::Request::new(body);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("metadata"),
        );
    }
    let path = PathAndQuery::try_from(method.path.clone()).expect("path");
    if method.streaming {
        match grpc.server_streaming(request, path, Raw).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                // A stream still open after 50 messages, or quiet for a second (a watch of
                // the audit log waits for news for good), has answered.
                for _ in 0..50 {
                    match tokio::time::timeout(std::time::Duration::from_secs(1), stream.message())
                        .await
                    {
                        Ok(Ok(Some(_))) => {}
                        Ok(Ok(None)) | Err(_) => return Code::Ok,
                        Ok(Err(status)) => return status.code(),
                    }
                }
                Code::Ok
            }
            Err(status) => status.code(),
        }
    } else {
        match grpc.unary(request, path, Raw).await {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        }
    }
}

/// The rows a caller can read back, without the counters a refused sign-in may move (failed
/// attempts, recent failures, places in flight), sessions and the audit log (a refusal is
/// audited).
async fn readable_state(db: &DatabaseConnection) -> String {
    let users = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(db)
        .await
        .expect("users");
    let credentials: Vec<_> = password_credential::Entity::find()
        .order_by_asc(password_credential::Column::UserId)
        .all(db)
        .await
        .expect("credentials")
        .into_iter()
        .map(|c| {
            (
                c.user_id,
                c.hash.expose().to_owned(),
                c.must_change,
                c.temporary,
                c.expires_at,
            )
        })
        .collect();
    let roles = role_assignment::Entity::find()
        .order_by_asc(role_assignment::Column::Id)
        .all(db)
        .await
        .expect("roles");
    let policies = password_policy::Entity::find()
        .all(db)
        .await
        .expect("policies");
    let tenants: Vec<_> = tenant::Entity::find()
        .order_by_asc(tenant::Column::Id)
        .all(db)
        .await
        .expect("tenants")
        .into_iter()
        .map(|t| (t.id, t.name, t.primary_domain, t.is_default))
        .collect();
    let methods = verification_method::Entity::find()
        .all(db)
        .await
        .expect("methods")
        .len();
    format!("{users:?}\n{credentials:?}\n{roles:?}\n{policies:?}\n{tenants:?}\n{methods}")
}

async fn generated_requests_of_every_rpc_never_fail_the_server(backend: Backend) {
    let capture = gatehouse_tests::logs::capture("warn");
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let client = server.client().await;
    let mut callers: Vec<(&str, Option<String>)> = vec![("anonymous", None)];
    for (name, roles) in [
        ("plain", vec![]),
        ("auditor", vec![pb::Role::Auditor]),
        ("password_admin", vec![pb::Role::PasswordAdmin]),
        ("user_admin", vec![pb::Role::UserAdmin]),
        ("global_admin", vec![pb::Role::GlobalAdmin]),
    ] {
        let username = format!("fuzz-{name}@contoso.example");
        gatehouse_tests::create_user(&admin, &username, &roles).await;
        let token = server.sign_in(&username, USER_PASSWORD).await.session_token;
        callers.push((name, Some(token)));
    }
    // Targets the requests may name; the callers themselves are left out of the pool, so a
    // generated reset does not sign a caller out of the rest of the run.
    let mut names = Vec::new();
    for n in 0..3 {
        let name = format!("target{n}@contoso.example");
        let id = gatehouse_tests::create_user(&admin, &name, &[]).await;
        names.push(name);
        names.push(id);
    }
    names.push("gatehouse.example".into());
    names.push("default".into());

    let fds = descriptors();
    let methods = methods(&fds);
    let seed = std::env::var("GATEHOUSE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let cases: usize = std::env::var("GATEHOUSE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut generator = Generator {
        fds: &fds,
        rng: StdRng::seed_from_u64(seed),
        names,
    };
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("connect");
    let mut before = readable_state(&db).await;
    let mut sent = 0;
    let mut refused = 0;
    for method in &methods {
        for (caller, token) in &callers {
            for _ in 0..cases {
                let body = generator.message(&method.input, 0);
                let code = call(&client, token.as_deref(), method, body.clone()).await;
                sent += 1;
                assert!(
                    !matches!(code, Code::Internal | Code::Unknown | Code::DataLoss),
                    "{} as {caller} answered {code:?} (seed {seed}, body {body:?})",
                    method.path
                );
                let after = readable_state(&db).await;
                if code == Code::Ok {
                    before = after;
                } else {
                    refused += 1;
                    assert_eq!(
                        before, after,
                        "{} as {caller} was refused ({code:?}) but changed rows (seed {seed})",
                        method.path
                    );
                }
            }
        }
    }
    // Bytes that are not protobuf, and a message nested past the decoder's recursion limit
    // (groups inside an unknown field), to every method.
    let mut nested = Vec::new();
    for _ in 0..200 {
        varint((15 << 3) | 3, &mut nested);
    }
    for method in &methods {
        for body in [
            vec![0xff; 64],
            vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
            nested.clone(),
        ] {
            let code = call(&client, callers[5].1.as_deref(), method, body).await;
            sent += 1;
            assert!(
                code == Code::InvalidArgument,
                "{} answered {code:?} to bytes that are not a request",
                method.path
            );
        }
    }
    println!(
        "fuzz ({backend:?}): {sent} requests to {} RPCs as {} callers, {refused} refused, seed {seed}",
        methods.len(),
        callers.len()
    );
    let mut health = tonic_health::pb::health_client::HealthClient::new(client.channel());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let text = capture.text();
    let errors: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(" ERROR "))
        .collect();
    assert!(errors.is_empty(), "input caused ERROR lines: {errors:#?}");
}
