//! Every sentence kind NebulaGraph 3.x's `PermissionCheck.cpp` checks (all but `kSequential`, a script,
//! whose statements are checked one by one), and every SHOW statement of its grammar, mapped to the one
//! check it needs, so an engine's validator calls [`check_statement`] once per
//! statement (after [`validate_statement`](crate::validate_statement)). docs/show-statements.md tables
//! the SHOW kinds with their checks, messages and NebulaGraph sources.
//!
//! Names are borrowed from the engine's parsed statement: building a [`Statement`] allocates nothing.

use crate::caller::Caller;
use crate::check::{Action, check};
use crate::error::PermissionError;
use crate::policy::Policy;
use crate::role::Role;

/// A statement kind, with the names its check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Statement<'a> {
    // ---- read space: GOD or any role in the named space.
    /// `USE space`.
    Use {
        /// The space.
        space: &'a str,
    },
    /// `DESCRIBE SPACE space`.
    DescribeSpace {
        /// The space.
        space: &'a str,
    },
    /// `SHOW CREATE SPACE space`.
    ShowCreateSpace {
        /// The space.
        space: &'a str,
    },
    // ---- read schema or data in the current space: GOD or any role in it.
    /// `GO`.
    Go,
    /// `MATCH`.
    Match,
    /// `LOOKUP`.
    Lookup,
    /// `FETCH PROP ON tag`.
    FetchVertices,
    /// `FETCH PROP ON edge`.
    FetchEdges,
    /// `FIND PATH`.
    FindPath,
    /// `GET SUBGRAPH`.
    GetSubgraph,
    /// `YIELD`.
    Yield,
    /// A pipe `a | b` (each side is checked on its own as well).
    Pipe,
    /// `ORDER BY`.
    OrderBy,
    /// `LIMIT`.
    Limit,
    /// `GROUP BY`.
    GroupBy,
    /// `UNWIND`.
    Unwind,
    /// `RETURN`.
    Return,
    /// `DESCRIBE TAG`.
    DescribeTag,
    /// `DESCRIBE EDGE`.
    DescribeEdge,
    /// `DESCRIBE TAG INDEX`.
    DescribeTagIndex,
    /// `DESCRIBE EDGE INDEX`.
    DescribeEdgeIndex,
    /// `UNION`, `INTERSECT` or `MINUS` of two queries (NebulaGraph's `kSet`; each side is checked
    /// on its own as well).
    Set,
    /// `$var = query` (NebulaGraph's `kAssignment`; the query is checked on its own as well).
    Assignment,
    // SHOW of the current space's schema, data and jobs. NebulaGraph checks nothing for these at
    // permission time (USE checked the space); with role changes reaching open sessions (fix 4,
    // docs/fixes.md) we check the role in the current space as for DESCRIBE TAG. Each needs a
    // current space: before USE the engine answers "Space was not chosen." (docs/show-statements.md).
    /// `SHOW TAGS`.
    ShowTags,
    /// `SHOW EDGES`.
    ShowEdges,
    /// `SHOW TAG INDEXES [BY tag]`.
    ShowTagIndexes,
    /// `SHOW EDGE INDEXES [BY edge]`.
    ShowEdgeIndexes,
    /// `SHOW TAG INDEX STATUS`.
    ShowTagIndexStatus,
    /// `SHOW EDGE INDEX STATUS`.
    ShowEdgeIndexStatus,
    /// `SHOW FULLTEXT INDEXES`.
    ShowFulltextIndexes,
    /// `SHOW CREATE TAG tag`.
    ShowCreateTag,
    /// `SHOW CREATE EDGE edge`.
    ShowCreateEdge,
    /// `SHOW CREATE TAG INDEX index`.
    ShowCreateTagIndex,
    /// `SHOW CREATE EDGE INDEX index`.
    ShowCreateEdgeIndex,
    /// `SHOW PARTS [ids]` (also spelled `SHOW PART ids`).
    ShowParts,
    /// `SHOW STATS`.
    ShowStats,
    /// `SHOW LISTENER`.
    ShowListener,
    /// `SHOW JOBS`.
    ShowJobs,
    /// `SHOW JOB id`.
    ShowJob,
    // ---- write space: GOD only.
    /// `CREATE SPACE`.
    CreateSpace,
    /// `CREATE SPACE a AS b`.
    CreateSpaceAs,
    /// `ALTER SPACE`.
    AlterSpace,
    /// `DROP SPACE`.
    DropSpace,
    /// `CLEAR SPACE`.
    ClearSpace,
    /// `CREATE SNAPSHOT`.
    CreateSnapshot,
    /// `DROP SNAPSHOT`.
    DropSnapshot,
    /// `ADD HOSTS`.
    AddHosts,
    /// `DROP HOSTS`.
    DropHosts,
    /// `ADD HOSTS ... INTO ZONE`.
    AddHostsIntoZone,
    /// `MERGE ZONE`.
    MergeZone,
    /// `DIVIDE ZONE`.
    DivideZone,
    /// `RENAME ZONE`.
    RenameZone,
    /// `DROP ZONE`.
    DropZone,
    /// `UPDATE CONFIGS`.
    UpdateConfigs,
    /// `GET CONFIGS`.
    GetConfigs,
    /// `SHOW CONFIGS [module]`: NebulaGraph checks it as a write of the space (GOD only).
    ShowConfigs,
    /// `SIGN IN TEXT SERVICE`.
    SignInTextService,
    /// `SIGN OUT TEXT SERVICE`.
    SignOutTextService,
    /// `SUBMIT JOB BALANCE DATA`.
    BalanceData,
    /// `SUBMIT JOB BALANCE ZONE`.
    BalanceZone,
    /// `SHOW ZONES`: parsed as NebulaGraph's `kListZones`, checked as a write of the space (GOD only).
    ShowZones,
    /// `DESCRIBE ZONE zone`: NebulaGraph's `kDescribeZone`, checked as a write of the space (GOD only).
    DescribeZone,
    // ---- write schema in the current space: GOD, ADMIN, DBA.
    /// `CREATE TAG`.
    CreateTag,
    /// `ALTER TAG`.
    AlterTag,
    /// `DROP TAG`.
    DropTag,
    /// `CREATE EDGE`.
    CreateEdge,
    /// `ALTER EDGE`.
    AlterEdge,
    /// `DROP EDGE`.
    DropEdge,
    /// `CREATE TAG INDEX`.
    CreateTagIndex,
    /// `DROP TAG INDEX`.
    DropTagIndex,
    /// `CREATE EDGE INDEX`.
    CreateEdgeIndex,
    /// `DROP EDGE INDEX`.
    DropEdgeIndex,
    /// `CREATE FULLTEXT INDEX`.
    CreateFulltextIndex,
    /// `DROP FULLTEXT INDEX`.
    DropFulltextIndex,
    /// `ADD LISTENER`.
    AddListener,
    /// `REMOVE LISTENER`.
    RemoveListener,
    // ---- write data and jobs in the current space: GOD, ADMIN, DBA, USER.
    /// `INSERT VERTEX`.
    InsertVertices,
    /// `INSERT EDGE`.
    InsertEdges,
    /// `UPDATE VERTEX`.
    UpdateVertex,
    /// `UPDATE EDGE`.
    UpdateEdge,
    /// `UPSERT VERTEX`.
    UpsertVertex,
    /// `UPSERT EDGE`.
    UpsertEdge,
    /// `DELETE VERTEX`.
    DeleteVertices,
    /// `DELETE EDGE`.
    DeleteEdges,
    /// `DELETE TAG`.
    DeleteTags,
    /// `SUBMIT JOB COMPACT`.
    SubmitCompact,
    /// `SUBMIT JOB FLUSH`.
    SubmitFlush,
    /// `SUBMIT JOB STATS`.
    SubmitStats,
    /// `REBUILD TAG INDEX`.
    RebuildTagIndex,
    /// `REBUILD EDGE INDEX`.
    RebuildEdgeIndex,
    /// `REBUILD FULLTEXT INDEX`.
    RebuildFulltextIndex,
    /// `SUBMIT JOB BALANCE LEADER`.
    BalanceLeader,
    /// `STOP JOB`.
    StopJob,
    /// `RECOVER JOB`.
    RecoverJob,
    /// `SUBMIT JOB DOWNLOAD HDFS url` (also `DOWNLOAD HDFS url`).
    SubmitDownload,
    /// `SUBMIT JOB INGEST` (also `INGEST`).
    SubmitIngest,
    // ---- users: GOD only, except DESCRIBE USER of oneself.
    /// `CREATE USER`.
    CreateUser,
    /// `ALTER USER`.
    AlterUser,
    /// `DROP USER`.
    DropUser,
    /// `DESCRIBE USER user`.
    DescribeUser {
        /// The user to describe.
        user: &'a str,
    },
    // ---- roles.
    /// `GRANT ROLE role ON space TO user`.
    Grant {
        /// The role.
        role: Role,
        /// The space.
        space: &'a str,
        /// The user.
        user: &'a str,
    },
    /// `REVOKE ROLE role ON space FROM user`.
    Revoke {
        /// The role.
        role: Role,
        /// The space.
        space: &'a str,
        /// The user.
        user: &'a str,
    },
    /// `SHOW ROLES IN space` (rows: [`may_see_role_row`](crate::may_see_role_row)).
    ShowRoles {
        /// The space.
        space: &'a str,
    },
    // ---- GOD-only listings (NebulaGraph's one case and message, "No permission to show
    // users/snapshots/serviceClients"), and KILL SESSION.
    /// `SHOW USERS`.
    ShowUsers,
    /// `SHOW SNAPSHOTS`.
    ShowSnapshots,
    /// `SHOW TEXT SEARCH CLIENTS` (NebulaGraph's `kShowServiceClients`).
    ShowServiceClients,
    /// `SHOW SESSIONS`.
    ShowSessions,
    /// `SHOW LOCAL SESSIONS`.
    ShowLocalSessions,
    /// `SHOW SESSION id`.
    ShowSession,
    /// `KILL SESSION ids`.
    KillSession,
    // ---- queries.
    /// `SHOW QUERIES` (rows: [`may_see_queries_of`](crate::may_see_queries_of)).
    ShowQueries,
    /// `SHOW LOCAL QUERIES`: the current session's own queries.
    ShowLocalQueries,
    /// `KILL QUERY`, once the engine has found the target session (deliberate fix 6, see docs/fixes.md,
    /// "Fix 6": session exists, then this check, then the plan) and knows the user owning it.
    KillQuery {
        /// The user owning the target session.
        owner_user: &'a str,
    },
    // ---- anyone.
    /// `SHOW SPACES` (rows: [`may_see_space`](crate::may_see_space)).
    ShowSpaces,
    /// `SHOW HOSTS`.
    ShowHosts,
    /// `SHOW CHARSET`.
    ShowCharset,
    /// `SHOW COLLATION`.
    ShowCollation,
    /// `SHOW META LEADER`.
    ShowMetaLeader,
    /// `CHANGE PASSWORD` (the executor checks the old password).
    ChangePassword,
    // ---- the permission of the statement inside.
    /// `EXPLAIN statement`.
    Explain {
        /// The explained statement.
        inner: &'a Statement<'a>,
    },
    /// `PROFILE statement`.
    Profile {
        /// The profiled statement.
        inner: &'a Statement<'a>,
    },
}

impl<'a> Statement<'a> {
    /// The check this statement needs. EXPLAIN and PROFILE are unwrapped (iteratively, so any nesting depth
    /// is fine) to the statement inside.
    #[inline]
    pub fn action(&self) -> Action<'a> {
        let mut statement = *self;
        while let Statement::Explain { inner } | Statement::Profile { inner } = statement {
            statement = *inner;
        }
        statement.own_action()
    }

    #[inline]
    fn own_action(self) -> Action<'a> {
        use Statement as S;
        match self {
            S::Use { space } | S::DescribeSpace { space } | S::ShowCreateSpace { space } => {
                Action::ReadSpace { space }
            }
            S::Go
            | S::Match
            | S::Lookup
            | S::FetchVertices
            | S::FetchEdges
            | S::FindPath
            | S::GetSubgraph
            | S::Yield
            | S::Pipe
            | S::OrderBy
            | S::Limit
            | S::GroupBy
            | S::Unwind
            | S::Return
            | S::DescribeTag
            | S::DescribeEdge
            | S::DescribeTagIndex
            | S::DescribeEdgeIndex
            | S::Set
            | S::Assignment
            | S::ShowTags
            | S::ShowEdges
            | S::ShowTagIndexes
            | S::ShowEdgeIndexes
            | S::ShowTagIndexStatus
            | S::ShowEdgeIndexStatus
            | S::ShowFulltextIndexes
            | S::ShowCreateTag
            | S::ShowCreateEdge
            | S::ShowCreateTagIndex
            | S::ShowCreateEdgeIndex
            | S::ShowParts
            | S::ShowStats
            | S::ShowListener
            | S::ShowJobs
            | S::ShowJob => Action::ReadCurrentSpace,
            S::CreateSpace
            | S::CreateSpaceAs
            | S::AlterSpace
            | S::DropSpace
            | S::ClearSpace
            | S::CreateSnapshot
            | S::DropSnapshot
            | S::AddHosts
            | S::DropHosts
            | S::AddHostsIntoZone
            | S::MergeZone
            | S::DivideZone
            | S::RenameZone
            | S::DropZone
            | S::UpdateConfigs
            | S::GetConfigs
            | S::ShowConfigs
            | S::SignInTextService
            | S::SignOutTextService
            | S::BalanceData
            | S::BalanceZone
            | S::ShowZones
            | S::DescribeZone => Action::WriteSpace,
            S::CreateTag
            | S::AlterTag
            | S::DropTag
            | S::CreateEdge
            | S::AlterEdge
            | S::DropEdge
            | S::CreateTagIndex
            | S::DropTagIndex
            | S::CreateEdgeIndex
            | S::DropEdgeIndex
            | S::CreateFulltextIndex
            | S::DropFulltextIndex
            | S::AddListener
            | S::RemoveListener => Action::WriteSchema,
            S::InsertVertices
            | S::InsertEdges
            | S::UpdateVertex
            | S::UpdateEdge
            | S::UpsertVertex
            | S::UpsertEdge
            | S::DeleteVertices
            | S::DeleteEdges
            | S::DeleteTags
            | S::SubmitCompact
            | S::SubmitFlush
            | S::SubmitStats
            | S::RebuildTagIndex
            | S::RebuildEdgeIndex
            | S::RebuildFulltextIndex
            | S::BalanceLeader
            | S::StopJob
            | S::RecoverJob
            | S::SubmitDownload
            | S::SubmitIngest => Action::WriteData,
            S::CreateUser | S::AlterUser | S::DropUser => Action::WriteUser,
            S::DescribeUser { user } => Action::ReadUser { user },
            S::Grant { role, space, user } => Action::WriteRole { role, space, user },
            S::Revoke { role, space, user } => Action::RevokeRole { role, space, user },
            S::ShowRoles { space } => Action::ShowRoles { space },
            // One case in NebulaGraph's PermissionCheck.cpp, one rule and one message.
            S::ShowUsers
            | S::ShowSnapshots
            | S::ShowServiceClients
            | S::ShowSessions
            | S::ShowLocalSessions
            | S::ShowSession => Action::ShowSessions,
            S::KillSession => Action::KillSession,
            S::KillQuery { owner_user } => Action::KillQuery { owner_user },
            S::ShowQueries
            | S::ShowLocalQueries
            | S::ShowSpaces
            | S::ShowHosts
            | S::ShowCharset
            | S::ShowCollation
            | S::ShowMetaLeader
            | S::ChangePassword => Action::Anyone,
            // Unwrapped by `action`; kept total without recursion.
            S::Explain { .. } | S::Profile { .. } => Action::Anyone,
        }
    }
}

/// May `caller` run `statement` under `policy`? The permission check an engine's validator makes per
/// statement, after the statement's semantic checks ([`validate_statement`](crate::validate_statement)),
/// as NebulaGraph's `Validator::validate` runs `validateImpl` before `checkPermission`.
///
/// For GRANT and REVOKE this is NebulaGraph's check; deliberate fix 8 (see docs/fixes.md, "Fix 8") needs the
/// target's current role and is applied by [`RoleTable::grant`](crate::RoleTable::grant) and
/// [`RoleTable::revoke`](crate::RoleTable::revoke), which repeat every check, in the same order, before
/// changing anything.
// Always inlined, like `check`: the two dispatches then fold into the caller's code.
#[inline(always)]
pub fn check_statement(
    caller: &Caller,
    policy: Policy,
    statement: &Statement<'_>,
) -> Result<(), PermissionError> {
    check(caller, policy, statement.action())
}
