//! NebulaGraph's `Value` and everything it contains, and the graph service's replies, as a table
//! of named types: the shape the generated decoder expects, field by field (ids and types copied
//! from `nebula-fbthrift-common-v3` and `nebula-fbthrift-graph-v3` 0.3.0's `types.rs`). The walker
//! checks a parameter map (server side) or a reply (client side) against it before the generated
//! decoder reads it, so that decoder meets only lengths, depths and element types it handles
//! safely.

use crate::reader::WireType;

/// A type the generated decoder reads: a primitive, a struct or union, or a container of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    Byte,
    I16,
    I32,
    I64,
    Double,
    Binary,
    Value,
    Date,
    Time,
    DateTime,
    Vertex,
    Tag,
    Edge,
    Step,
    Path,
    NList,
    NMap,
    NSet,
    DataSet,
    Row,
    Geography,
    Point,
    Coordinate,
    LineString,
    Polygon,
    Duration,
    /// `list<Value>`.
    ValueList,
    /// `set<Value>`.
    ValueSet,
    /// `map<binary, Value>`: properties, `NMap`'s entries and the parameter map.
    Properties,
    /// `list<Tag>`.
    TagList,
    /// `list<Step>`.
    StepList,
    /// `list<Row>`.
    RowList,
    /// `list<binary>`.
    BinaryList,
    /// `list<Coordinate>`.
    CoordinateList,
    /// `list<list<Coordinate>>`.
    CoordinateLists,
    /// The reply types (ids and types copied from `nebula-fbthrift-graph-v3` 0.3.0's
    /// `types.rs`): `ExecutionResponse`.
    ExecutionResponse,
    /// `AuthResponse`.
    AuthResponse,
    /// `VerifyClientVersionResp`.
    VerifyClientVersionResp,
    /// `PlanDescription`.
    PlanDescription,
    /// `PlanNodeDescription`.
    PlanNodeDescription,
    /// `Pair`.
    Pair,
    /// `ProfilingStats`.
    ProfilingStats,
    /// `PlanNodeBranchInfo`.
    PlanNodeBranchInfo,
    /// `list<PlanNodeDescription>`.
    PlanNodeList,
    /// `list<Pair>`.
    PairList,
    /// `list<ProfilingStats>`.
    ProfilingStatsList,
    /// `list<i64>`.
    I64List,
    /// `map<i64, i64>`.
    I64Map,
    /// `map<binary, binary>`.
    BinaryMap,
    /// A method's result struct, `{0: success}`: `execute` and `executeWithParameter`.
    ExecuteResult,
    /// `authenticate`'s result struct.
    AuthenticateResult,
    /// `verifyClientVersion`'s result struct.
    VerifyClientVersionResult,
    /// The `executeJson` variants' result struct (`{0: binary}`).
    JsonResult,
}

/// How a [`Ty`] is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Primitive(WireType),
    /// A struct or union: its fields as (id, type).
    Struct(&'static [(i16, Ty)]),
    List(Ty),
    Set(Ty),
    Map(Ty, Ty),
}

/// `executeWithParameter`'s third argument: `map<binary, Value>`.
pub(crate) const PARAMETERS: Ty = Ty::Properties;

const VALUE: [(i16, Ty); 17] = [
    (1, Ty::I32),
    (2, Ty::Bool),
    (3, Ty::I64),
    (4, Ty::Double),
    (5, Ty::Binary),
    (6, Ty::Date),
    (7, Ty::Time),
    (8, Ty::DateTime),
    (9, Ty::Vertex),
    (10, Ty::Edge),
    (11, Ty::Path),
    (12, Ty::NList),
    (13, Ty::NMap),
    (14, Ty::NSet),
    (15, Ty::DataSet),
    (16, Ty::Geography),
    (17, Ty::Duration),
];

const DATE_TIME: [(i16, Ty); 7] = [
    (1, Ty::I16),
    (2, Ty::Byte),
    (3, Ty::Byte),
    (4, Ty::Byte),
    (5, Ty::Byte),
    (6, Ty::Byte),
    (7, Ty::I32),
];

const EDGE: [(i16, Ty); 6] = [
    (1, Ty::Value),
    (2, Ty::Value),
    (3, Ty::I32),
    (4, Ty::Binary),
    (5, Ty::I64),
    (6, Ty::Properties),
];

const EXECUTION_RESPONSE: [(i16, Ty); 7] = [
    (1, Ty::I32),
    (2, Ty::I64),
    (3, Ty::DataSet),
    (4, Ty::Binary),
    (5, Ty::Binary),
    (6, Ty::PlanDescription),
    (7, Ty::Binary),
];

const AUTH_RESPONSE: [(i16, Ty); 5] =
    [(1, Ty::I32), (2, Ty::Binary), (3, Ty::I64), (4, Ty::I32), (5, Ty::Binary)];

const PLAN_NODE_DESCRIPTION: [(i16, Ty); 7] = [
    (1, Ty::Binary),
    (2, Ty::I64),
    (3, Ty::Binary),
    (4, Ty::PairList),
    (5, Ty::ProfilingStatsList),
    (6, Ty::PlanNodeBranchInfo),
    (7, Ty::I64List),
];

const PLAN_DESCRIPTION: [(i16, Ty); 4] =
    [(1, Ty::PlanNodeList), (2, Ty::I64Map), (3, Ty::Binary), (4, Ty::I32)];

const PROFILING_STATS: [(i16, Ty); 4] =
    [(1, Ty::I64), (2, Ty::I64), (3, Ty::I64), (4, Ty::BinaryMap)];

const STEP: [(i16, Ty); 5] =
    [(1, Ty::Vertex), (2, Ty::I32), (3, Ty::Binary), (4, Ty::I64), (5, Ty::Properties)];

impl Ty {
    /// The type's layout.
    pub(crate) fn shape(self) -> Shape {
        match self {
            Ty::Bool => Shape::Primitive(WireType::Bool),
            Ty::Byte => Shape::Primitive(WireType::Byte),
            Ty::I16 => Shape::Primitive(WireType::I16),
            Ty::I32 => Shape::Primitive(WireType::I32),
            Ty::I64 => Shape::Primitive(WireType::I64),
            Ty::Double => Shape::Primitive(WireType::Double),
            Ty::Binary => Shape::Primitive(WireType::Binary),
            Ty::Value => Shape::Struct(&VALUE),
            Ty::Date => Shape::Struct(&[(1, Ty::I16), (2, Ty::Byte), (3, Ty::Byte)]),
            Ty::Time => Shape::Struct(&[(1, Ty::Byte), (2, Ty::Byte), (3, Ty::Byte), (4, Ty::I32)]),
            Ty::DateTime => Shape::Struct(&DATE_TIME),
            Ty::Vertex => Shape::Struct(&[(1, Ty::Value), (2, Ty::TagList)]),
            Ty::Tag => Shape::Struct(&[(1, Ty::Binary), (2, Ty::Properties)]),
            Ty::Edge => Shape::Struct(&EDGE),
            Ty::Step => Shape::Struct(&STEP),
            Ty::Path => Shape::Struct(&[(1, Ty::Vertex), (2, Ty::StepList)]),
            Ty::NList | Ty::Row => Shape::Struct(&[(1, Ty::ValueList)]),
            Ty::NMap => Shape::Struct(&[(1, Ty::Properties)]),
            Ty::NSet => Shape::Struct(&[(1, Ty::ValueSet)]),
            Ty::DataSet => Shape::Struct(&[(1, Ty::BinaryList), (2, Ty::RowList)]),
            Ty::Geography => {
                Shape::Struct(&[(1, Ty::Point), (2, Ty::LineString), (3, Ty::Polygon)])
            }
            Ty::Point => Shape::Struct(&[(1, Ty::Coordinate)]),
            Ty::Coordinate => Shape::Struct(&[(1, Ty::Double), (2, Ty::Double)]),
            Ty::LineString => Shape::Struct(&[(1, Ty::CoordinateList)]),
            Ty::Polygon => Shape::Struct(&[(1, Ty::CoordinateLists)]),
            Ty::Duration => Shape::Struct(&[(1, Ty::I64), (2, Ty::I32), (3, Ty::I32)]),
            Ty::ValueList => Shape::List(Ty::Value),
            Ty::ValueSet => Shape::Set(Ty::Value),
            Ty::Properties => Shape::Map(Ty::Binary, Ty::Value),
            Ty::TagList => Shape::List(Ty::Tag),
            Ty::StepList => Shape::List(Ty::Step),
            Ty::RowList => Shape::List(Ty::Row),
            Ty::BinaryList => Shape::List(Ty::Binary),
            Ty::CoordinateList => Shape::List(Ty::Coordinate),
            Ty::CoordinateLists => Shape::List(Ty::CoordinateList),
            Ty::ExecutionResponse => Shape::Struct(&EXECUTION_RESPONSE),
            Ty::AuthResponse => Shape::Struct(&AUTH_RESPONSE),
            Ty::VerifyClientVersionResp => Shape::Struct(&[(1, Ty::I32), (2, Ty::Binary)]),
            Ty::PlanDescription => Shape::Struct(&PLAN_DESCRIPTION),
            Ty::PlanNodeDescription => Shape::Struct(&PLAN_NODE_DESCRIPTION),
            Ty::Pair => Shape::Struct(&[(1, Ty::Binary), (2, Ty::Binary)]),
            Ty::ProfilingStats => Shape::Struct(&PROFILING_STATS),
            Ty::PlanNodeBranchInfo => Shape::Struct(&[(1, Ty::Bool), (2, Ty::I64)]),
            Ty::PlanNodeList => Shape::List(Ty::PlanNodeDescription),
            Ty::PairList => Shape::List(Ty::Pair),
            Ty::ProfilingStatsList => Shape::List(Ty::ProfilingStats),
            Ty::I64List => Shape::List(Ty::I64),
            Ty::I64Map => Shape::Map(Ty::I64, Ty::I64),
            Ty::BinaryMap => Shape::Map(Ty::Binary, Ty::Binary),
            Ty::ExecuteResult => Shape::Struct(&[(0, Ty::ExecutionResponse)]),
            Ty::AuthenticateResult => Shape::Struct(&[(0, Ty::AuthResponse)]),
            Ty::VerifyClientVersionResult => Shape::Struct(&[(0, Ty::VerifyClientVersionResp)]),
            Ty::JsonResult => Shape::Struct(&[(0, Ty::Binary)]),
        }
    }

    /// The wire type a value of this type is sent as.
    pub(crate) fn wire(self) -> WireType {
        match self.shape() {
            Shape::Primitive(wire) => wire,
            Shape::Struct(_) => WireType::Struct,
            Shape::List(_) => WireType::List,
            Shape::Set(_) => WireType::Set,
            Shape::Map(..) => WireType::Map,
        }
    }
}
