//! Start-up: everything read from the data directory and checked before a port is opened, the
//! listeners bound, the leases taken (durably, before any id is issued), and each node built,
//! restored from its snapshot when there is one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use graphsession_core::cluster::{MetaConfig, MetaSnapshot, MetaStore, NodeConfig, NodeId};
use graphsession_core::node::{Config as NodeSettings, GraphNode, Parts as NodeParts};
use graphsession_core::server::Config as ServerConfig;
use graphsession_id_gen::{PlanIdGenerator, SealKey, SessionIdConfig, SessionIdGenerator};
use graphsession_meta_etcd::{CatalogRegister, Delivery, etcd_meta_config};
use graphsession_permission::{Policy, RoleTable};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::actor::NodeHost;
use crate::actor::persist::{META_FILE, META_KIND, ROLES_FILE, ROLES_KIND, node_file};
use crate::catalog::Catalog;
use crate::clock::now_unix_ms;
use crate::config::{Config, MetaBackend};
use crate::logging::log;
use crate::meta_host::{Meta, start_etcd};
use crate::passwords::Passwords;
use crate::record::Recorder;
use crate::shared_catalog::SharedCatalog;
use crate::store::DataDir;
use crate::store::leases::{Granted, Leases};
use crate::store::seal;

/// What the actor is built from.
pub struct Parts {
    /// The nodes, slot 1 first.
    pub nodes: Vec<NodeHost>,
    /// The meta store: embedded, or this process's handle on etcd.
    pub meta: Meta,
    /// With etcd: its answers, for `meta_host::forward`.
    pub deliveries: Option<mpsc::Receiver<Delivery>>,
    /// The role table.
    pub roles: RoleTable,
    /// The space catalog.
    pub catalog: Catalog,
    /// The password store.
    pub passwords: Arc<Passwords>,
    /// `--enable_authorize`.
    pub policy: Policy,
    /// The data directory.
    pub dir: DataDir,
    /// The leases file.
    pub leases: Leases,
    /// `--local_ip`, as text.
    pub local_ip: String,
    /// `--snapshot_interval_secs` in ms.
    pub snapshot_interval_ms: u64,
    /// `--verbose`.
    pub verbose: bool,
    /// `--record_events`.
    pub recorder: Option<Recorder>,
    /// On etcd: the cluster's catalog register and the revision the copy above was taken at.
    pub shared_catalog: Option<(CatalogRegister, i64)>,
}

/// Reads and checks the data directory, binds the listeners and builds the nodes.
pub async fn prepare(config: &Config) -> Result<(Parts, Vec<TcpListener>)> {
    let dir = DataDir::open(&config.data_path)?;
    // Embedded: the data directory's key; on etcd: the cluster's, agreed on at the join below.
    let local_seal_key = match config.meta {
        MetaBackend::Embedded => Some(seal::load_or_create(&dir)?),
        MetaBackend::Etcd { .. } => {
            seal::note_unused(&dir);
            None
        }
    };
    let passwords = Arc::new(Passwords::load_or_create(&dir)?);
    let mut roles = load_roles(&dir)?;
    let mut catalog = Catalog::load(&dir)?;
    let embedded = match config.meta {
        MetaBackend::Embedded => Some(load_meta(&dir, meta_config(config))?),
        MetaBackend::Etcd { .. } => None,
    };
    let listeners = bind(config).await?;
    let addrs: Vec<SocketAddr> =
        listeners.iter().map(TcpListener::local_addr).collect::<Result<_, _>>()?;
    let mut leases = Leases::load(&dir)?;
    let recorder = config.record_events.as_deref().map(Recorder::create).transpose()?;
    let mut shared_catalog = None;
    let (meta, granted, deliveries, seal_key) = match (embedded, &config.meta, local_seal_key) {
        (Some(store), _, Some(seal_key)) => {
            let slots: Vec<u16> = (1..=config.nodes).collect();
            let granted = leases.acquire(&dir, &slots, now_unix_ms())?;
            (Meta::Embedded(store), granted, None, seal_key)
        }
        (None, MetaBackend::Etcd { endpoints, prefix, lease_ttl_ms, catalog_bytes_max }, None) => {
            let etcd = (endpoints.as_slice(), prefix.as_str(), (*lease_ttl_ms, *catalog_bytes_max));
            let recording = (meta_config(config), recorder.is_some());
            let shown: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            let mut on = start_etcd(etcd, recording, &shown, seal::draw()?, now_unix_ms()).await?;
            let local = (&mut roles, &mut catalog, passwords.as_ref());
            let revision = join_catalog(&on.etcd.catalog(), local).await?;
            on.etcd.follow_catalog(revision);
            shared_catalog = Some((on.etcd.catalog(), revision));
            let seal_key = on.etcd.seal_key();
            (Meta::Etcd(on.etcd), on.granted, Some(on.deliveries), seal_key)
        }
        _ => bail!("the meta store and the seal key were not loaded for one backend"),
    };
    if let Some(recorder) = &recorder {
        recorder.started(now_unix_ms(), meta.config());
    }
    let slots: Vec<u16> = granted.iter().map(|grant| grant.session.slot).collect();
    let mut nodes = Vec::new();
    for (index, (grant, addr)) in granted.iter().zip(&addrs).enumerate() {
        let node = build_node(config, &dir, (*grant, index), (&slots, &addrs), seal_key, &roles)?;
        nodes.push(NodeHost { node, addr: addr.to_string(), grant: *grant });
    }
    let parts = Parts {
        nodes,
        meta,
        deliveries,
        roles,
        catalog,
        passwords,
        policy: Policy { authorization_enabled: config.enable_authorize },
        dir,
        leases,
        local_ip: config.local_ip.to_string(),
        snapshot_interval_ms: config.snapshot_interval_secs.saturating_mul(1_000),
        verbose: config.verbose,
        recorder,
        shared_catalog,
    };
    Ok((parts, listeners))
}

/// Joins the cluster's shared catalog: the first graphd of a cluster seeds it with its own
/// users, roles, spaces and hashes; every later one takes the cluster's in place of its data
/// directory's (which it keeps as a copy). Returns the register's revision.
async fn join_catalog(
    register: &CatalogRegister,
    (roles, catalog, passwords): (&mut RoleTable, &mut Catalog, &Passwords),
) -> Result<i64> {
    let local = SharedCatalog::new(roles.clone(), catalog.space_set().clone(), passwords.all());
    let (revision, value) =
        register.seed(&local.encode()).await.context("cannot join the shared catalog in etcd")?;
    let shared = SharedCatalog::decode(&value)?;
    if !shared.same_contents(&local) {
        log!("users, roles and spaces: the cluster's, from etcd (revision {revision})");
        roles.adopt(shared.roles)?;
        catalog.replace(shared.spaces)?;
        passwords.replace(shared.hashes)?;
    }
    Ok(revision)
}

fn load_roles(dir: &DataDir) -> Result<RoleTable> {
    let Some(roles) = dir.read_json::<RoleTable>(ROLES_FILE, ROLES_KIND)? else {
        let roles = RoleTable::new();
        dir.write_json(ROLES_FILE, ROLES_KIND, &roles)?;
        return Ok(roles);
    };
    roles
        .check_invariants()
        .with_context(|| format!("{} is corrupt", dir.path(ROLES_FILE).display()))?;
    Ok(roles)
}

fn load_meta(dir: &DataDir, config: MetaConfig) -> Result<MetaStore> {
    match dir.read_json::<MetaSnapshot>(META_FILE, META_KIND)? {
        None => Ok(MetaStore::new(config)?),
        Some(snapshot) => MetaStore::restore(config, snapshot)
            .with_context(|| format!("{} is corrupt", dir.path(META_FILE).display())),
    }
}

fn idle_timeout_ms(config: &Config) -> u64 {
    config.session_idle_timeout_secs.saturating_mul(1_000)
}

fn sync_interval_ms(config: &Config) -> u64 {
    config.session_reclaim_interval_secs.saturating_mul(1_000)
}

fn meta_config(config: &Config) -> MetaConfig {
    let defaults = MetaConfig::default();
    MetaConfig {
        idle_timeout_ms: idle_timeout_ms(config),
        // A node is presumed dead after ten of its rounds without a word.
        holder_silence_ms: defaults.holder_silence_ms.max(sync_interval_ms(config) * 10),
        ..defaults
    }
}

pub(crate) async fn bind(config: &Config) -> Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    for index in 0..config.nodes {
        let port = match config.port {
            0 => 0,
            first => first.checked_add(index).context("--port + --nodes is past 65535")?,
        };
        let addr = SocketAddr::new(config.local_ip, port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (node {})", index + 1))?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// A node's request timeout on etcd, ms: above twice a delay through an etcd election.
const ETCD_REQUEST_TIMEOUT_MS: u64 = 3_000;

/// Node `index` of this process, on slot `grant`'s (its `NodeId`); `slots` and `addrs` are
/// every local node's, in node order.
pub(crate) fn build_node(
    config: &Config,
    dir: &DataDir,
    (grant, index): (Granted, usize),
    (slots, addrs): (&[u16], &[SocketAddr]),
    seal_key: SealKey,
    roles: &RoleTable,
) -> Result<GraphNode> {
    let slot = grant.session.slot;
    let Some(addr) = addrs.get(index) else { bail!("no address for node {slot}") };
    let server = ServerConfig {
        idle_timeout_ms: idle_timeout_ms(config),
        sessions_per_user_ip_max: config.max_sessions_per_ip_per_user,
        sessions_max: config.max_allowed_connections,
        failed_login_attempts: config.failed_login_attempts,
        password_lock_time_secs: config.password_lock_time_in_secs,
        policy: Policy { authorization_enabled: config.enable_authorize },
        graph_addr: addr.to_string(),
        query_timeout_ms: config.query_timeout_ms,
        ..ServerConfig::default()
    };
    let on_etcd = matches!(config.meta, MetaBackend::Etcd { .. });
    let batch_max = NodeConfig::default().sync_batch_sessions_max;
    let etcd_meta = etcd_meta_config(MetaConfig::default());
    let etcd_items_max = etcd_meta.request_items_max;
    let (queries_max, statement_bytes_max) = {
        let default = NodeConfig::default();
        (default.reported_queries_max, default.reported_statement_bytes_max)
    };
    let sync = NodeConfig {
        sync_interval_ms: sync_interval_ms(config),
        idle_timeout_ms: idle_timeout_ms(config),
        // Every request must fit one log entry in etcd (`etcd_meta_config`'s item limit).
        sync_batch_sessions_max: if on_etcd { batch_max.min(etcd_items_max) } else { batch_max },
        // The same for the queries a node reports for SHOW QUERIES on the others.
        reported_queries_max: queries_max.min(etcd_items_max),
        reported_statement_bytes_max: statement_bytes_max.min(etcd_meta.text_bytes_max),
        // On etcd an append lost to a member's death is resent after this.
        request_timeout_ms: if on_etcd {
            ETCD_REQUEST_TIMEOUT_MS
        } else {
            NodeConfig::default().request_timeout_ms
        },
        ..NodeConfig::default()
    };
    // The other nodes of this process; a node of another graphd shows as `node-N`.
    let peer_addrs: BTreeMap<NodeId, String> = slots
        .iter()
        .copied()
        .zip(addrs)
        .filter(|(peer, _)| *peer != slot)
        .map(|(peer, addr)| (NodeId(peer), addr.to_string()))
        .collect();
    let settings = NodeSettings {
        node_id: NodeId(slot),
        incarnation: grant.incarnation,
        server,
        sync,
        peer_addrs,
        ..NodeSettings::default()
    };
    let session_ids = SessionIdGenerator::new(grant.session, seal_key, SessionIdConfig::default())?;
    let parts = NodeParts {
        session_ids: Box::new(session_ids),
        plan_ids: PlanIdGenerator::new(grant.plan)?,
    };
    let now = now_unix_ms();
    let file = node_file(slot);
    // On etcd a slot may have been another process's: the node reloads from meta instead.
    let saved = if on_etcd { None } else { dir.read(&file)? };
    match saved {
        None => Ok(GraphNode::new(settings, parts, now)?),
        Some(bytes) => GraphNode::restore(settings, parts, &bytes, roles, now)
            .with_context(|| format!("{} is corrupt", dir.path(&file).display())),
    }
}
