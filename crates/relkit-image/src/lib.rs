//! relkit-image: reproducible multi-arch OCI images from a release's Linux
//! binaries (`build`: an OCI image layout folder holding one image per
//! Linux target and an image index over them), and a daemon-less push of
//! such a layout to any registry speaking the OCI distribution API
//! (`push`).

pub mod base;
pub mod build;
pub mod push;
pub mod registry;
pub mod release;
pub mod save;
pub mod spec;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use relkit_core::target::Target;
use relkit_core::{Failure, HasFailure, gha};

use crate::build::Compression;
use crate::registry::{Credentials, ImageRef, Registry, Secret, Settings};

/// Build reproducible OCI images from release binaries and push them to a registry.
#[derive(Debug, Parser)]
#[command(name = "relkit-image", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// relkit-image's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write an OCI image layout: one image per Linux binary plus an image index.
    Build(Box<BuildArgs>),
    /// Push an OCI image layout (from `build`) to a registry and tag it.
    Push(Box<PushArgs>),
    /// Write one platform's image of a layout as a tarball `docker load` reads.
    Save(SaveArgs),
}

/// Arguments of `relkit image build`.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// The OCI image layout folder to write (replaced when complete).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A binary and its build target (repeat per target); non-Linux targets are skipped.
    #[arg(long = "binary", value_name = "TARGET=PATH", required = true)]
    pub binaries: Vec<String>,
    /// The program's name inside the image, /usr/local/bin/NAME [default: the first binary's file name].
    #[arg(long)]
    pub name: Option<String>,
    /// The release version: label org.opencontainers.image.version and the layout's tag.
    #[arg(long, env = "RELKIT_VERSION", hide_env_values = true)]
    pub version: String,
    /// Label org.opencontainers.image.source (the repository URL).
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// Label org.opencontainers.image.revision [default: $GITHUB_SHA, else HEAD].
    #[arg(long, value_name = "COMMIT")]
    pub revision: Option<String>,
    /// Label org.opencontainers.image.licenses (an SPDX expression).
    #[arg(long, value_name = "SPDX")]
    pub licenses: Option<String>,
    /// More labels (repeat).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Environment of the process (repeat).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Exposed ports (repeat), e.g. 8080 or 53/udp.
    #[arg(long = "port", value_name = "PORT[/PROTO]")]
    pub ports: Vec<String>,
    /// The entrypoint, one argument per flag [default: /usr/local/bin/NAME].
    #[arg(long = "entrypoint", value_name = "ARG", allow_hyphen_values = true)]
    pub entrypoint: Vec<String>,
    /// Default arguments after the entrypoint (repeat).
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    pub cmd: Vec<String>,
    /// User the process runs as (non-root by default).
    #[arg(long, default_value = "65532:65532", value_name = "UID:GID")]
    pub user: String,
    /// Working directory.
    #[arg(long, default_value = "/", value_name = "DIR")]
    pub workdir: String,
    /// Layer compression.
    #[arg(long, value_enum, default_value_t = Compression::Gzip)]
    pub compression: Compression,
    /// Base image: `scratch` (for static binaries) or REFERENCE@sha256:DIGEST.
    #[arg(long, default_value = "scratch", value_name = "REF")]
    pub base: String,
    /// Refuse a base image not pinned by digest.
    #[arg(long)]
    pub require_digest: bool,
    /// User name for the base image's registry (anonymous when unset).
    #[arg(long, env = "RELKIT_BASE_USERNAME", hide_env_values = true)]
    pub base_username: Option<String>,
    /// Environment variable holding the password for the base image's registry.
    #[arg(long, value_name = "NAME", default_value = "RELKIT_BASE_PASSWORD")]
    pub base_password_env: String,
    /// Trust these CA certificates (PEM) for the base image's registry.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Talk plain HTTP to the base image's registry (trusted network only).
    #[arg(long)]
    pub plain_http: bool,
}

/// Arguments of `relkit image push`.
#[derive(Debug, Clone, clap::Args)]
pub struct PushArgs {
    /// The OCI image layout folder (from `relkit image build`).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "release",
        conflicts_with = "release"
    )]
    pub layout: Option<PathBuf>,
    /// Push the image a finalized release records: its layout, repository,
    /// digest and tags (manifest.json's `images`); run it after publishing.
    #[arg(long, value_name = "DIR", env = "RELKIT_RELEASE_DIR")]
    pub release: Option<PathBuf>,
    /// Where to push: REGISTRY/REPOSITORY, e.g. ghcr.io/owner/app [with
    /// --release: the recorded repository].
    #[arg(
        long,
        value_name = "REGISTRY/REPOSITORY",
        env = "RELKIT_IMAGE",
        hide_env_values = true,
        required_unless_present = "release"
    )]
    pub image: Option<String>,
    /// Tags to set on the index (repeat), e.g. v1.2.3, 1.2, latest.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Registry user name [default for ghcr.io: $GITHUB_ACTOR].
    #[arg(long, env = "RELKIT_REGISTRY_USERNAME", hide_env_values = true)]
    pub username: Option<String>,
    /// Environment variable holding the password or token [for ghcr.io, else GITHUB_TOKEN].
    #[arg(long, value_name = "NAME", default_value = "RELKIT_REGISTRY_PASSWORD")]
    pub password_env: String,
    /// Repositories on the same registry to mount blobs from before uploading (repeat).
    #[arg(long = "mount-from", value_name = "REPOSITORY")]
    pub mount_from: Vec<String>,
    /// Trust these CA certificates (PEM) besides the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Talk plain HTTP to the registry (only for a registry on a trusted network).
    #[arg(long)]
    pub plain_http: bool,
    /// Blobs larger than this many bytes are uploaded in chunks of this size.
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_size: u64,
    /// First retry delay in milliseconds (doubles each retry, with jitter).
    #[arg(
        long,
        hide = true,
        default_value_t = 1000,
        env = "RELKIT_RETRY_BASE_MS"
    )]
    pub retry_base_ms: u64,
    /// Give up retrying after this many seconds in total (exit 3).
    #[arg(long, hide = true, default_value_t = 600, env = "RELKIT_GIVE_UP_SECS")]
    pub give_up_secs: u64,
    /// Per-request connect and read timeout in seconds.
    #[arg(long, hide = true, default_value_t = 60, env = "RELKIT_TIMEOUT_SECS")]
    pub timeout_secs: u64,
}

/// Arguments of `relkit image save`.
#[derive(Debug, Clone, clap::Args)]
pub struct SaveArgs {
    /// The OCI image layout folder (from `relkit image build`).
    #[arg(long, value_name = "DIR")]
    pub layout: PathBuf,
    /// Which image of the layout: `linux/amd64`, `linux/arm64`, `linux/arm/v7`.
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: String,
    /// The name `docker load` gives it, e.g. ghcr.io/me/tool:v1.2.3.
    #[arg(long, value_name = "REPOSITORY:TAG")]
    pub tag: String,
    /// The tarball to write (replaced when complete).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// relkit-image's errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From relkit-core (bad input, I/O).
    #[error(transparent)]
    Core(#[from] relkit_core::Error),
    /// The layout folder given to `push` is not one `build` writes.
    #[error("`{}`: not a usable OCI image layout: {problem}", path.display())]
    Layout {
        /// The layout folder.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The registry refused our credentials (or wanted some).
    #[error("registry `{registry}`: {problem}")]
    Auth {
        /// The registry host.
        registry: String,
        /// What happened.
        problem: String,
    },
    /// TLS refused the registry's certificate.
    #[error("registry `{registry}`: {problem} (trust its CA with --ca-file)")]
    Tls {
        /// The registry host.
        registry: String,
        /// What TLS reported.
        problem: String,
    },
    /// The registry refused a request for good.
    #[error("{what}: the registry answered HTTP {status}{detail}")]
    Rejected {
        /// The request.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error code and message.
        detail: String,
    },
    /// The registry kept failing until the retry budget ran out.
    #[error("{what}: still failing after {secs}s of retries: {last}")]
    GaveUp {
        /// The request.
        what: String,
        /// The last failure.
        last: String,
        /// The retry budget.
        secs: u64,
    },
    /// A fault inside relkit.
    #[error("internal error: {0}")]
    Internal(String),
}

impl HasFailure for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::Core(e) => e.failure(),
            Error::Layout { .. }
            | Error::Auth { .. }
            | Error::Tls { .. }
            | Error::Rejected { .. } => Failure::Input,
            Error::GaveUp { .. } => Failure::Remote,
            Error::Internal(_) => Failure::Internal,
        }
    }
}

/// Run a subcommand.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Build(args) => run_build(&args),
        Command::Push(args) => run_push(&args, &|k| std::env::var(k).ok()),
        Command::Save(args) => {
            let ok = args.tag.rsplit_once(':').is_some_and(|(repo, tag)| {
                !repo.is_empty() && !repo.ends_with('/') && registry::valid_tag(tag)
            });
            if !ok {
                return Err(relkit_core::Error::invalid(
                    "--tag",
                    format!("`{}` is not REPOSITORY:TAG", args.tag),
                )
                .into());
            }
            let epoch = relkit_core::buildtime::build_epoch(std::path::Path::new("."))?;
            let digest = save::save(&args.layout, &args.platform, &args.tag, epoch, &args.out)?;
            println!("{digest}");
            Ok(())
        }
    }
}

fn split_pair<'a>(flag: &str, raw: &'a str) -> Result<(&'a str, &'a str), Error> {
    raw.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| {
            relkit_core::Error::invalid(flag, format!("`{raw}` is not KEY=VALUE")).into()
        })
}

fn parse_inputs(args: &BuildArgs) -> Result<Vec<build::Input>, Error> {
    args.binaries
        .iter()
        .map(|raw| {
            let (target, path) = split_pair("--binary", raw)?;
            Ok(build::Input {
                target: Target::parse(target)?,
                binary: PathBuf::from(path),
            })
        })
        .collect()
}

fn parse_port(raw: &str) -> Result<String, Error> {
    let (port, proto) = raw.split_once('/').unwrap_or((raw, "tcp"));
    let ok = port.parse::<u16>().is_ok_and(|p| p > 0) && matches!(proto, "tcp" | "udp" | "sctp");
    if ok {
        Ok(format!("{port}/{proto}"))
    } else {
        Err(relkit_core::Error::invalid(
            "--port",
            format!("`{raw}` is not PORT or PORT/tcp|udp|sctp"),
        )
        .into())
    }
}

/// The labels: the `org.opencontainers.image.*` ones from the flags, then
/// `--label`s (which may override them).
fn labels(args: &BuildArgs, epoch: i64) -> Result<BTreeMap<String, String>, Error> {
    let mut labels = BTreeMap::new();
    let oci = |k: &str| format!("org.opencontainers.image.{k}");
    labels.insert(oci("version"), args.version.clone());
    labels.insert(oci("created"), relkit_core::buildtime::rfc3339(epoch)?);
    let revision = args
        .revision
        .clone()
        .or_else(|| relkit_core::buildtime::commit(std::path::Path::new(".")));
    for (k, v) in [
        ("source", &args.source),
        ("revision", &revision),
        ("licenses", &args.licenses),
    ] {
        if let Some(v) = v {
            labels.insert(oci(k), v.clone());
        }
    }
    for raw in &args.labels {
        let (k, v) = split_pair("--label", raw)?;
        labels.insert(k.to_owned(), v.to_owned());
    }
    Ok(labels)
}

/// The base image's source, or None for `scratch`.
fn base_source(
    args: &BuildArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<base::BaseSource>, Error> {
    let Some(reference) = base::BaseRef::parse(&args.base, args.require_digest)? else {
        return Ok(None);
    };
    let creds = credentials(
        &reference.image,
        args.base_username.as_deref(),
        &args.base_password_env,
        env,
    )?;
    let settings = Settings {
        retry_base: Duration::from_secs(1),
        give_up: Duration::from_secs(600),
        timeout: Duration::from_secs(60),
        ca_file: args.ca_file.clone(),
        plain_http: args.plain_http,
        chunk_size: u64::MAX,
    };
    let registry =
        Registry::new(reference.image.clone(), creds, Vec::new(), &settings)?.read_only();
    Ok(Some(base::BaseSource {
        reference,
        registry,
    }))
}

fn image_spec(
    args: &BuildArgs,
    inputs: &[build::Input],
    epoch: i64,
) -> Result<build::ImageSpec, Error> {
    let name = match &args.name {
        Some(n) => n.clone(),
        None => inputs[0]
            .binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let env = args
        .env
        .iter()
        .map(|raw| split_pair("--env", raw).map(|_| raw.clone()))
        .collect::<Result<_, _>>()?;
    let ports = args
        .ports
        .iter()
        .map(|p| parse_port(p))
        .collect::<Result<_, _>>()?;
    Ok(build::ImageSpec {
        name,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        env,
        ports,
        cmd: args.cmd.clone(),
        entrypoint: args.entrypoint.clone(),
        labels: labels(args, epoch)?,
        compression: args.compression,
        epoch,
    })
}

/// `relkit image build` as a library call (finalize's image stage uses
/// it): build the layout `args` describe, with build time `epoch`, reading
/// the base registry's credentials through `env`.
pub fn build_layout(
    args: &BuildArgs,
    epoch: i64,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<build::Built, Error> {
    let base = base_source(args, env)?;
    if !registry::valid_tag(&args.version) {
        return Err(relkit_core::Error::invalid(
            "--version",
            format!("`{}` cannot be an image tag", args.version),
        )
        .into());
    }
    let inputs = parse_inputs(args)?;
    let spec = image_spec(args, &inputs, epoch)?;
    build::build(&args.out, &args.version, &spec, &inputs, base.as_ref())
}

fn run_build(args: &BuildArgs) -> Result<(), Error> {
    let epoch = relkit_core::buildtime::build_epoch(std::path::Path::new("."))?;
    let built = build_layout(args, epoch, &|k| std::env::var(k).ok())?;
    if gha::is_actions() {
        gha::set_output("image-index-digest", &built.index)?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&built).expect("serialisable")
    );
    Ok(())
}

/// Whether `s` looks like an environment variable's name (so it may be
/// printed: a secret pasted where a name belongs must not be).
fn is_var_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The credentials for `image`, from the environment through `env`.
pub fn credentials(
    image: &ImageRef,
    username: Option<&str>,
    password_env: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, Error> {
    let ghcr = image.registry == "ghcr.io";
    let password = env(password_env).filter(|p| !p.is_empty()).or_else(|| {
        ghcr.then(|| env("GITHUB_TOKEN"))
            .flatten()
            .filter(|p| !p.is_empty())
    });
    let username = username
        .map(str::to_owned)
        .or_else(|| ghcr.then(|| env("GITHUB_ACTOR")).flatten());
    match (username, password) {
        (None, None) => Ok(None),
        (Some(username), Some(password)) => {
            gha::mask(&password);
            Ok(Some(Credentials {
                username,
                password: Secret::new(password),
            }))
        }
        (Some(_), None) => {
            let name = if is_var_name(password_env) {
                password_env
            } else {
                "named by --password-env"
            };
            Err(relkit_core::Error::invalid(
                "--password-env",
                format!("a user name is given but the variable {name} is not set"),
            )
            .into())
        }
        (None, Some(_)) => Err(relkit_core::Error::invalid(
            "--username",
            "a password is set but no user name is given",
        )
        .into()),
    }
}

/// What `push` pushes where: from the flags, or from a finalized release.
struct PushTarget {
    layout: PathBuf,
    image: String,
    tags: Vec<String>,
    /// The index digest the release records, which the layout must have.
    digest: Option<String>,
}

fn push_target(args: &PushArgs) -> Result<Option<PushTarget>, Error> {
    let Some(dir) = &args.release else {
        let missing =
            |flag: &str| relkit_core::Error::invalid(flag, "is required without --release");
        return Ok(Some(PushTarget {
            layout: args.layout.clone().ok_or_else(|| missing("--layout"))?,
            image: args.image.clone().ok_or_else(|| missing("--image"))?,
            tags: args.tags.clone(),
            digest: None,
        }));
    };
    let Some(recorded) = release::recorded(dir)? else {
        return Ok(None);
    };
    if let Some(i) = args.image.as_ref().filter(|i| **i != recorded.repository) {
        return Err(relkit_core::Error::invalid(
            "--image",
            format!(
                "`{i}` differs from the repository the release records, `{}`",
                recorded.repository
            ),
        )
        .into());
    }
    let mut tags = recorded.tags;
    for t in &args.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    Ok(Some(PushTarget {
        layout: dir.join(release::LAYOUT),
        image: recorded.repository,
        tags,
        digest: Some(recorded.index_digest),
    }))
}

/// `relkit image push` with the environment read through `env`.
pub fn run_push(args: &PushArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
    let Some(target) = push_target(args)? else {
        return Ok(());
    };
    let image = ImageRef::parse(&target.image)?;
    for tag in &target.tags {
        if !registry::valid_tag(tag) {
            return Err(relkit_core::Error::invalid(
                "--tag",
                format!("`{tag}` is not a valid tag"),
            )
            .into());
        }
    }
    let creds = credentials(&image, args.username.as_deref(), &args.password_env, env)?;
    let layout = push::read_layout(&target.layout)?;
    if let Some(want) = &target.digest {
        if &layout.index.0.digest != want {
            return Err(Error::Layout {
                path: target.layout.clone(),
                problem: format!(
                    "its image index is {}, but manifest.json records {want}",
                    layout.index.0.digest
                ),
            });
        }
    }
    let settings = Settings {
        retry_base: Duration::from_millis(args.retry_base_ms),
        give_up: Duration::from_secs(args.give_up_secs),
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
        ca_file: args.ca_file.clone(),
        plain_http: args.plain_http,
        chunk_size: args.chunk_size,
    };
    let registry = Registry::new(image, creds, args.mount_from.clone(), &settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    let pushed = runtime.block_on(push::push(
        &registry,
        &layout,
        &target.tags,
        &args.mount_from,
    ))?;
    if gha::is_actions() {
        gha::set_output("image-index-digest", &pushed.index)?;
        gha::set_output("image", &pushed.image)?;
        gha::set_output("registry", &registry.image().registry)?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&pushed).expect("serialisable")
    );
    Ok(())
}
