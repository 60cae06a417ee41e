//! `epicrisis serve`, `epicrisis users …`, `epicrisis tokens add`,
//! `epicrisis audit verify` and `epicrisis versions verify`: the server and the
//! administration of its store.

use crate::Failure;
use crate::cli::{Engine, LayoutArg, ModelArgs, T_ARGUMENTOS, T_OPCIONES};
use clap::{Args, Subcommand};
use epicrisis_server::{Server, Settings, auth};
use epicrisis_store::{AuditEntry, Role, Store};
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Dirección y puerto [EPICRISIS_LISTEN] (predeterminado: 127.0.0.1:3000).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Quién redacta los borradores [MODEL_TYPE]: `deterministic`, `local`, `openai` o
    /// `anthropic`, como en `generate` (también lo predeterminado).
    #[arg(long, value_enum, hide_possible_values = true)]
    pub engine: Option<Engine>,
    /// Formato de los borradores: `sections` (predeterminado, por secciones) o
    /// `paragraph` (un párrafo).
    #[arg(
        long,
        value_enum,
        default_value = "sections",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub layout: LayoutArg,
    /// Segundos que una detención espera a la redacción en curso antes de cancelarla
    /// (predeterminado: 120).
    #[arg(long, default_value_t = 120, hide_default_value = true)]
    pub shutdown_grace: u64,
    /// Sin una línea por solicitud en la salida de errores.
    #[arg(long)]
    pub quiet: bool,
    /// Solo encola los borradores: los redactan procesos `epicrisis worker` que comparten
    /// la base de datos (este servidor no carga el modelo).
    #[arg(long)]
    pub no_worker: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Quién redacta [MODEL_TYPE]: `deterministic`, `local`, `openai` o `anthropic`, como
    /// en `serve`.
    #[arg(long, value_enum, hide_possible_values = true)]
    pub engine: Option<Engine>,
    /// Segundos que una detención espera al borrador en curso; después se detiene y el
    /// trabajo vuelve a la cola para otro proceso (predeterminado: 120).
    #[arg(long, default_value_t = 120, hide_default_value = true)]
    pub shutdown_grace: u64,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Crea una cuenta. La contraseña se lee de la entrada estándar (oculta en una
    /// terminal).
    #[command(help_template = T_ARGUMENTOS)]
    Add {
        /// El nombre de usuario (letras, números, «.», «_» o «-»).
        username: String,
        /// medico (redacta, edita, aprueba, firma), administrativo (consulta, exporta) o
        /// admin.
        #[arg(long)]
        role: String,
        /// Nombre que muestran la interfaz y las firmas (predeterminado: el de usuario).
        #[arg(long)]
        name: Option<String>,
    },
    /// Deshabilita una cuenta: sus sesiones terminan y sus tokens de API dejan de
    /// funcionar.
    #[command(help_template = T_ARGUMENTOS)]
    Disable {
        /// El nombre de usuario.
        username: String,
    },
    /// Habilita una cuenta deshabilitada.
    #[command(help_template = T_ARGUMENTOS)]
    Enable {
        /// El nombre de usuario.
        username: String,
    },
    /// Cambia la contraseña (se lee de la entrada estándar).
    #[command(help_template = T_ARGUMENTOS)]
    Passwd {
        /// El nombre de usuario.
        username: String,
    },
    /// Lista las cuentas.
    #[command(help_template = T_OPCIONES)]
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Crea un token de API para una cuenta (se muestra una sola vez; solo se guarda su
    /// hash).
    #[command(help_template = T_ARGUMENTOS)]
    Add {
        /// La cuenta dueña del token.
        username: String,
        /// Para qué es el token (por ejemplo «integración HIS»).
        #[arg(long)]
        name: String,
        /// Días que dura el token, de 1 a 365 (predeterminado: 90).
        #[arg(long, default_value_t = epicrisis_store::TOKEN_DAYS, hide_default_value = true, value_parser = clap::value_parser!(i64).range(1..=365))]
        days: i64,
    },
    /// Lista los tokens de API (de una cuenta, o todos): id, cuenta, nombre, creación,
    /// vencimiento y estado.
    #[command(help_template = T_ARGUMENTOS)]
    List {
        /// Solo los de esta cuenta.
        username: Option<String>,
    },
    /// Revoca un token de API por su id (el que muestra `tokens list`).
    #[command(help_template = T_ARGUMENTOS)]
    Revoke {
        /// El id del token.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum VersionsCommand {
    /// Recalcula el hash de versiones desde su texto guardado, los datos del episodio de
    /// que se redactaron y sus metadatos; código de salida 1 si una no coincide. Sin ids,
    /// todas las versiones firmadas.
    #[command(help_template = T_ARGUMENTOS)]
    Verify {
        /// Ids de versión (los de /api/v1/versions/ID); ninguno: todas las firmadas.
        ids: Vec<i64>,
    },
}

pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot start the async runtime: {e}")))
}

pub(crate) fn store_config(env_file: Option<&Path>) -> Result<crate::config::Config, Failure> {
    let (_, config) = crate::config::load(env_file, None)?;
    Ok(config)
}

/// Opens the store of `DATABASE_URL`, sealed with the audit key of the configuration, and
/// refuses a key that does not fit the trail already written.
pub async fn open_store(config: &crate::config::Config) -> Result<Store, Failure> {
    let seal = config.audit.seal()?;
    let store = Store::open(&config.database_url)
        .await
        .map_err(|e| Failure::Input(format!("{e} (DATABASE_URL)")))?
        .with_audit_seal(seal);
    store
        .check_audit_key()
        .await
        .map_err(crate::config::seal_failure)?;
    Ok(store)
}

pub(crate) fn store_err(e: epicrisis_store::StoreError) -> Failure {
    match e {
        epicrisis_store::StoreError::NotFound(m) | epicrisis_store::StoreError::Conflict(m) => {
            Failure::Input(m)
        }
        other => Failure::Internal(anyhow::anyhow!("{other}")),
    }
}

/// Reads a password: hidden on a terminal (asked twice), else one line of standard input.
fn read_password() -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let ask = |prompt: &str| -> Result<String, Failure> {
            eprint!("{prompt}");
            std::io::stderr().flush()?;
            let _ = std::process::Command::new("stty").arg("-echo").status();
            let mut line = String::new();
            let r = stdin.lock().read_line(&mut line);
            let _ = std::process::Command::new("stty").arg("echo").status();
            eprintln!();
            r?;
            Ok(line.trim_end_matches(['\r', '\n']).to_string())
        };
        let a = ask("contraseña: ")?;
        let b = ask("repita la contraseña: ")?;
        if a != b {
            return Err(Failure::Input(
                "las contraseñas no coinciden / the passwords differ".into(),
            ));
        }
        Ok(a)
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

fn new_hash() -> Result<String, Failure> {
    let pw = read_password()?;
    auth::check_password_strength(&pw).map_err(Failure::Input)?;
    auth::hash_password(&pw).map_err(|e| Failure::Internal(anyhow::anyhow!(e)))
}

pub(crate) async fn audit_admin(
    store: &Store,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), Failure> {
    let who = std::env::var("USER").unwrap_or_else(|_| "?".into());
    store
        .audit(&AuditEntry {
            user_id: None,
            username: Some(format!("cli:{who}")),
            action: action.into(),
            episode_id: None,
            version_id: None,
            detail: detail.to_string(),
        })
        .await
        .map_err(store_err)?;
    // A command-line change is anchored at once: no server may be running to do it.
    store.anchor_audit().await.map_err(store_err)?;
    Ok(())
}

pub fn users(cmd: UsersCommand, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let config = store_config(env_file)?;
    runtime()?.block_on(async move {
        let store = open_store(&config).await?;
        match cmd {
            UsersCommand::Add {
                username,
                role,
                name,
            } => add_user(&store, &username, &role, name).await?,
            UsersCommand::Disable { username } => {
                store
                    .set_disabled(&username, true)
                    .await
                    .map_err(store_err)?;
                audit_admin(
                    &store,
                    "user_disable",
                    serde_json::json!({"user": username}),
                )
                .await?;
                println!("usuario {username} deshabilitado; sus sesiones y tokens ya no sirven");
            }
            UsersCommand::Enable { username } => {
                store
                    .set_disabled(&username, false)
                    .await
                    .map_err(store_err)?;
                audit_admin(&store, "user_enable", serde_json::json!({"user": username})).await?;
                println!("usuario {username} habilitado");
            }
            UsersCommand::Passwd { username } => change_password(&store, &username).await?,
            UsersCommand::List => list_users(&store).await?,
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `epicrisis users add`: creates the account with a password read from standard input.
async fn add_user(
    store: &Store,
    username: &str,
    role: &str,
    name: Option<String>,
) -> Result<(), Failure> {
    let role = Role::parse(role).ok_or_else(|| {
        Failure::Input(format!(
            "--role {role:?}: use medico, administrativo or admin"
        ))
    })?;
    let username = auth::check_username(username).map_err(Failure::Input)?;
    let hash = new_hash()?;
    let display = name.unwrap_or_else(|| username.clone());
    let u = store
        .add_user(&username, &display, role, &hash)
        .await
        .map_err(store_err)?;
    audit_admin(
        store,
        "user_add",
        serde_json::json!({"user": u.username, "role": role}),
    )
    .await?;
    println!("usuario {} creado ({})", u.username, role.as_str());
    Ok(())
}

/// `epicrisis users passwd`: sets a new password read from standard input.
async fn change_password(store: &Store, username: &str) -> Result<(), Failure> {
    if store
        .user_by_name(username)
        .await
        .map_err(store_err)?
        .is_none()
    {
        return Err(Failure::Input(format!("no existe el usuario {username:?}")));
    }
    let hash = new_hash()?;
    store
        .set_password(username, &hash, None)
        .await
        .map_err(store_err)?;
    audit_admin(store, "user_passwd", serde_json::json!({"user": username})).await?;
    println!(
        "contraseña de {username} cambiada (sus sesiones terminaron y sus tokens de API \
         quedaron revocados)"
    );
    Ok(())
}

/// `epicrisis users list`: one line per account (name, role, state, display name).
async fn list_users(store: &Store) -> Result<(), Failure> {
    for u in store.users().await.map_err(store_err)? {
        println!(
            "{}\t{}\t{}\t{}",
            u.username,
            u.role.as_str(),
            if u.disabled {
                "deshabilitado"
            } else {
                "activo"
            },
            u.display_name
        );
    }
    Ok(())
}

pub fn tokens(cmd: TokensCommand, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let config = store_config(env_file)?;
    runtime()?.block_on(async move {
        let store = open_store(&config).await?;
        match cmd {
            TokensCommand::Add {
                username,
                name,
                days,
            } => add_token(&store, &username, &name, days).await?,
            TokensCommand::List { username } => list_tokens(&store, username).await?,
            TokensCommand::Revoke { id } => {
                store
                    .revoke_api_token(id, None)
                    .await
                    .map_err(|e| match e {
                        epicrisis_store::StoreError::NotFound(_) => Failure::Input(format!(
                            "no hay un token de API {id} (vea `epicrisis tokens list`)"
                        )),
                        other => store_err(other),
                    })?;
                audit_admin(&store, "token_revoke", serde_json::json!({"tokenId": id})).await?;
                println!("token {id} revocado");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `epicrisis tokens add`: makes an API token for a user and prints it once.
async fn add_token(store: &Store, username: &str, name: &str, days: i64) -> Result<(), Failure> {
    let u = store
        .user_by_name(username)
        .await
        .map_err(store_err)?
        .ok_or_else(|| Failure::Input(format!("no existe el usuario {username:?}")))?;
    let token = auth::random_token().map_err(|e| Failure::Internal(anyhow::anyhow!(e.message)))?;
    let expires = epicrisis_server::now_ms() + days * 86_400_000;
    let id = store
        .add_api_token(u.id, name, &auth::token_hash(&token), expires)
        .await
        .map_err(store_err)?;
    audit_admin(
        store,
        "token_add",
        serde_json::json!({"user": u.username, "tokenId": id, "days": days}),
    )
    .await?;
    eprintln!(
        "token {id} para {} por {days} días (guárdelo: no se vuelve a mostrar):",
        u.username
    );
    println!("{token}");
    Ok(())
}

/// `epicrisis tokens list`: one line per API token (of one user, or of all), with its state.
async fn list_tokens(store: &Store, username: Option<String>) -> Result<(), Failure> {
    let owner = match username {
        Some(name) => Some(
            store
                .user_by_name(&name)
                .await
                .map_err(store_err)?
                .ok_or_else(|| Failure::Input(format!("no existe el usuario {name:?}")))?
                .id,
        ),
        None => None,
    };
    let now = epicrisis_server::now_ms();
    for t in store.api_tokens(owner).await.map_err(store_err)? {
        // Dates in UTC, as the audit trail keeps times.
        let day = |ms: i64| {
            epicrisis_domain::Date::from_ymd(1970, 1, 1).map_or_else(String::new, |d| {
                d.add_days(ms.div_euclid(86_400_000)).to_string()
            })
        };
        let state = if t.revoked_at.is_some() {
            "revocado"
        } else if !t.active(now) {
            "expirado"
        } else {
            "vigente"
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{state}",
            t.id,
            t.username,
            t.name,
            day(t.created_at),
            t.expires_at.map_or_else(|| "—".to_string(), day)
        );
    }
    Ok(())
}

pub fn versions(cmd: VersionsCommand, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let config = store_config(env_file)?;
    runtime()?.block_on(async move {
        let store = open_store(&config).await?;
        match cmd {
            VersionsCommand::Verify { ids } => {
                let checks = if ids.is_empty() {
                    store.verify_signed_versions().await.map_err(store_err)?
                } else {
                    let mut checks = Vec::with_capacity(ids.len());
                    for id in ids {
                        checks.push(store.verify_version(id).await.map_err(store_err)?);
                    }
                    checks
                };
                if checks.is_empty() {
                    println!("no hay versiones firmadas que verificar / no signed versions");
                }
                let bad = checks.iter().filter(|c| !c.matches).count();
                for c in &checks {
                    println!("{} {}", if c.matches { "ok" } else { "ALTERADA" }, c.message());
                }
                if bad == 0 {
                    Ok(ExitCode::SUCCESS)
                } else {
                    println!(
                        "{bad} de {} versión(es) no coinciden con su huella / {bad} of {} do not match",
                        checks.len(),
                        checks.len()
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
    })
}

/// The engine a server or worker drafts with, and the embeddings model of its
/// retrieval and of the archive: the one the engine already loaded, else the configured
/// one (none when EMBEDDINGS_TYPE=none or the default is not installed). Without a
/// worker nothing is loaded: the deterministic writer stands in for the engine's name.
pub(crate) fn drafter(
    engine: Option<Engine>,
    model: &ModelArgs,
    config: &crate::config::Config,
    layout: epicrisis_pipeline::Layout,
) -> Result<(Engine, crate::engine::Ready, Option<EmbedderArc>), Failure> {
    let engine_kind = crate::engine::choose(engine, config)?;
    let ready = crate::engine::open(engine_kind, model, config, layout)?;
    let embedder = match &ready.drafter {
        epicrisis_pipeline::engine::Engine::Model { options, .. } => {
            options.retrieval.embedder.clone()
        }
        epicrisis_pipeline::engine::Engine::Deterministic => crate::embedder::open(config)?,
    };
    Ok((engine_kind, ready, embedder))
}

type EmbedderArc = std::sync::Arc<dyn epicrisis_embed::Embedder>;

pub(crate) fn job_settings(
    config: &crate::config::Config,
) -> epicrisis_server::worker::WorkerSettings {
    epicrisis_server::worker::WorkerSettings {
        lease: Duration::from_secs(u64::from(config.job_lease_seconds)),
        // As many drafts at a time as the model decodes together.
        drafts: config.llama.parallel as usize,
        ..Default::default()
    }
}

/// The server's settings from the flags and the configuration. Without a worker, the
/// page's notice says what the workers are configured with (`--engine` or `MODEL_TYPE`).
fn server_settings(
    args: &ServeArgs,
    config: &crate::config::Config,
    layout: epicrisis_pipeline::Layout,
    engine_kind: Engine,
    ready: &crate::engine::Ready,
) -> Result<Settings, Failure> {
    let workers_engine = args.no_worker.then(|| {
        args.engine
            .map(|e| e.as_str().to_string())
            .or_else(|| config.model_type.map(|m| m.as_str().to_string()))
    });
    let external = match &workers_engine {
        Some(e) => matches!(e.as_deref(), Some("openai" | "anthropic")),
        None => ready.drafter.is_external(),
    };
    let openai = engine_kind == Engine::OpenAi
        || workers_engine.as_ref().and_then(|e| e.as_deref()) == Some("openai");
    let external_notice = external.then(|| match openai {
        true => config.openai.base_url.clone(),
        false => config.anthropic.base_url.clone(),
    });
    Ok(Settings {
        queue_capacity: config.queue_size,
        secure_cookies: config.secure_cookies,
        session_hours: i64::from(config.session_hours),
        hospital_name: config
            .hospital_name
            .clone()
            .unwrap_or_else(|| "Hospital".into()),
        logo: hospital_logo(config)?,
        layout,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        external_notice,
        log_requests: !args.quiet,
        trusted_proxies: config.trusted_proxies.clone(),
        limits: config.limits,
        v1: config.v1,
        worker: !args.no_worker,
        jobs: job_settings(config),
        workers_engine: workers_engine.flatten(),
        metrics_token: crate::metrics_port::token(config)?,
        directory: match config.directory.clone() {
            Some(c) => Some(std::sync::Arc::new(
                epicrisis_server::directory::Directory::new(c)
                    .map_err(|e| Failure::Input(format!("EPICRISIS_LDAP_*: {e}")))?,
            )),
            None => None,
        },
        ..Settings::default()
    })
}

/// `HOSPITAL_LOGO`, read and checked.
fn hospital_logo(
    config: &crate::config::Config,
) -> Result<Option<epicrisis_export::Logo>, Failure> {
    let Some(p) = &config.hospital_logo else {
        return Ok(None);
    };
    let bytes = std::fs::read(p)
        .map_err(|e| Failure::Input(format!("HOSPITAL_LOGO {}: {e}", p.display())))?;
    epicrisis_export::Logo::from_bytes(bytes)
        .map(Some)
        .map_err(|e| Failure::Input(format!("HOSPITAL_LOGO {}: {e}", p.display())))
}

pub fn serve(args: ServeArgs, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let (_, config) = crate::config::load(env_file, Some(&args.model))?;
    let layout = crate::generate::layout(args.layout);
    let (engine_kind, ready, embedder) = if args.no_worker {
        let ready = crate::engine::open(Engine::Deterministic, &args.model, &config, layout)?;
        (
            Engine::Deterministic,
            ready,
            crate::embedder::open(&config)?,
        )
    } else {
        drafter(args.engine, &args.model, &config, layout)?
    };
    let settings = server_settings(&args, &config, layout, engine_kind, &ready)?;
    let listen = args.listen.unwrap_or(config.listen);
    let tls = match &config.tls {
        Some((cert, key)) => {
            Some(epicrisis_server::tls::Tls::load(cert, key).map_err(Failure::Input)?)
        }
        None => None,
    };
    runtime()?.block_on(async move {
        let store = open_store(&config).await?;
        let _anchoring = store.spawn_anchoring(config.audit.anchor_every);
        let backend = store.backend();
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            Failure::Input(format!(
                "cannot listen on {listen}: {e} (EPICRISIS_LISTEN or --listen; is another server running there?)"
            ))
        })?;
        let local = listener.local_addr()?;
        let server = Server::new(store, ready.drafter, settings)?.with_embedder(embedder);
        let drafts = if args.no_worker {
            "los redactan los procesos `epicrisis worker`".to_string()
        } else {
            format!("motor: {}", engine_kind.as_str())
        };
        let stop = shutdown_signal();
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(
            "epicrisis {} escuchando en {scheme}://{local} ({drafts}, base de datos: {:?}); Ctrl-C para detener",
            env!("CARGO_PKG_VERSION"),
            backend
        );
        let _reloading = tls.clone().map(reload_on_sighup);
        match &server.state.embedder {
            Some(e) => tracing::info!("archivo de casos: búsqueda con {}", e.name()),
            None => tracing::info!("archivo de casos: sin modelo de embeddings (EMBEDDINGS_TYPE/EMBEDDINGS_MODEL)"),
        }
        if let Some(d) = &server.state.settings.directory {
            tracing::info!(
                "inicio de sesión: directorio {} ({} grupo(s)); las cuentas locales también",
                d.config.url,
                d.config.groups.len()
            );
        }
        if server.state.store.users().await.map_err(store_err)?.is_empty() {
            tracing::warn!("aviso: no hay usuarios; cree el primero con `epicrisis users add NOMBRE --role admin`");
        }
        let anchored = server.state.store.clone();
        let services = crate::intake::Services::start(&server.state, &config).await?;
        crate::metrics_port::for_server(&server.state, &config).await?;
        server
            .run_with_tls(listener, tls, stop)
            .await
            .map_err(|e| Failure::Internal(anyhow::anyhow!("the server stopped: {e}")))?;
        services.stop().await;
        anchor_at_exit(&anchored).await;
        tracing::info!("epicrisis detenido");
        Ok(ExitCode::SUCCESS)
    })
}

/// `epicrisis worker`: drafts the jobs of the shared database until SIGTERM or Ctrl-C,
/// then finishes (and saves) the draft under way within the grace period.
pub fn worker(args: WorkerArgs, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let (_, config) = crate::config::load(env_file, Some(&args.model))?;
    // The layout comes with each job; this one only prepares the engine.
    let layout = epicrisis_pipeline::Layout::Sections;
    let (engine_kind, ready, embedder) = drafter(args.engine, &args.model, &config, layout)?;
    let grace = Duration::from_secs(args.shutdown_grace);
    let rt = runtime()?;
    let store = rt.block_on(open_store(&config))?;
    let anchoring = {
        let _in_runtime = rt.enter();
        store.spawn_anchoring(config.audit.anchor_every)
    };
    let anchored = store.clone();
    let backend = store.backend();
    let w = epicrisis_server::worker::Worker::new(
        store,
        ready.drafter,
        embedder,
        job_settings(&config),
        rt.handle().clone(),
    );
    let w = w.with_metrics(rt.block_on(crate::metrics_port::for_worker(&anchored, &config))?);
    let stop = {
        let _in_runtime = rt.enter();
        shutdown_signal()
    };
    tracing::info!(
        "epicrisis {} redactando los trabajos de la base de datos ({backend:?}; motor: {}); Ctrl-C para detener",
        env!("CARGO_PKG_VERSION"),
        engine_kind.as_str(),
    );
    let handle = w
        .start(std::sync::Arc::new(
            epicrisis_server::worker::Wake::default(),
        ))
        .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot start the worker: {e}")))?;
    rt.block_on(stop);
    handle.shutdown(grace);
    if anchoring.is_some() {
        rt.block_on(anchor_at_exit(&anchored));
    }
    tracing::info!("epicrisis detenido");
    Ok(ExitCode::SUCCESS)
}

/// The last anchor of the audit chain before the process ends.
async fn anchor_at_exit(store: &Store) {
    if let Err(e) = store.anchor_audit().await {
        tracing::warn!("aviso: no se pudo anclar la bitácora al terminar: {e}");
    }
}

/// Reads the certificate again on each SIGHUP (a renewed certificate without a restart);
/// a failed reload keeps the previous one and says why.
fn reload_on_sighup(tls: epicrisis_server::tls::Tls) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                return;
            };
            while hup.recv().await.is_some() {
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS: certificado recargado"),
                    Err(e) => tracing::warn!("TLS: no se pudo recargar ({e}); sigue el anterior"),
                }
            }
        }
        #[cfg(not(unix))]
        drop(tls);
    })
}

/// A future that ends on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called (inside the runtime), not when it is first polled, so a signal that arrives right
/// after the ready line is caught rather than killing the process.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Some(mut term), Some(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("deteniendo: se termina (y guarda) la generación en curso…");
    }
}
