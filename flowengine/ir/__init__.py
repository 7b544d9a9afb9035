"""The IR: states joined by outcome-labelled edges (`model`), its JSON codec and whole-flow checks."""

from .codec import IR_VERSION, decode, decode_op, encode
from .model import HANDLERS, OPS, TRIGGERS, Case, Flow, Op, State
from .validate import validate_flow
from .values import FrozenDict, freeze, thaw

__all__ = [
    "IR_VERSION", "decode", "decode_op", "encode", "HANDLERS", "OPS", "TRIGGERS", "Case", "Flow", "Op",
    "State", "validate_flow", "FrozenDict", "freeze", "thaw",
]
