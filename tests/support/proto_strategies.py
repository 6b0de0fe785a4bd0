"""Hypothesis strategies for protobuf messages: any message of a type, from valid to absurd."""

from __future__ import annotations

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

# Strings that matter to the converters and validators, mixed with arbitrary text.
INTERESTING_STRINGS = st.sampled_from(
    [
        "",
        "BEL1",
        "TRU3",
        "jedi-culture",
        "site-north",
        "evt-1",
        "yes",
        "no",
        "prefer_not_to_say",
        "a b",
        "x" * 300,
    ]
)
STRINGS = st.one_of(INTERESTING_STRINGS, st.text(max_size=40))
INT32 = st.one_of(st.integers(-3, 8), st.integers(-(2**31), 2**31 - 1))
# Open enums: any int32 can arrive on the wire; small numbers hit real values most often.
ENUM_NUMBERS = st.one_of(st.integers(0, 8), st.integers(-(2**31), 2**31 - 1))
TIMESTAMPS = st.one_of(
    st.tuples(st.integers(1_735_689_600, 1_798_761_600), st.integers(0, 999_999_999)),  # 2025..2026
    st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**31), 2**31 - 1)),
)


def _scalar(field: FieldDescriptor) -> st.SearchStrategy:
    if field.type == FieldDescriptor.TYPE_STRING:
        return STRINGS
    if field.type == FieldDescriptor.TYPE_ENUM:
        return ENUM_NUMBERS
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32):
        return INT32
    if field.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64):
        return st.integers(-(2**63), 2**63 - 1)
    raise NotImplementedError(field.full_name)


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


@st.composite
def random_message(
    draw: st.DrawFn, descriptor: Descriptor, depth: int = 0, density: int = 50
) -> Message:
    """Any message of this type: fields set or not, oneofs any way, values from valid to absurd.

    `density` is the percentage chance that each field (and each oneof) is set.
    """
    message = message_factory.GetMessageClass(descriptor)()
    if descriptor.full_name == "google.protobuf.Timestamp":
        message.seconds, message.nanos = draw(TIMESTAMPS)
        return message

    def present() -> bool:
        return draw(st.integers(0, 99)) < density

    chosen_in_oneof = {
        oneof.name: draw(st.sampled_from(list(oneof.fields))) if present() else None
        for oneof in descriptor.oneofs
    }
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and not oneof.name.startswith(
            "_"
        ):  # real oneof, not proto3 `optional`
            if chosen_in_oneof[oneof.name] is not field:
                continue
        elif not present():
            continue
        target = getattr(message, field.name)
        if _is_map(field):
            key_field, value_field = (
                field.message_type.fields_by_name["key"],
                field.message_type.fields_by_name["value"],
            )
            for key, value in draw(
                st.dictionaries(_scalar(key_field), _scalar(value_field), max_size=6)
            ).items():
                target[key] = value
        elif field.type == FieldDescriptor.TYPE_MESSAGE and depth < 4:
            count = draw(st.integers(0, 4)) if field.is_repeated else 1
            for _ in range(count):
                sub = draw(random_message(field.message_type, depth + 1, density))
                (target.add() if field.is_repeated else target).CopyFrom(sub)
        elif field.type != FieldDescriptor.TYPE_MESSAGE:
            if field.is_repeated:
                target.extend(draw(st.lists(_scalar(field), max_size=4)))
            else:
                setattr(message, field.name, draw(_scalar(field)))
    return message
