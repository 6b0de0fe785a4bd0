"""Field-driven translation between a protobuf message and a domain dataclass.

A `MessageShape` pairs a frozen dataclass with the message that mirrors it field for
field, and plans once, at import, how each field travels. The plan is read from the
message descriptor and the dataclass's type hints:

- a scalar is copied; one with presence (`optional`) is `None` when unset;
- an enum goes through `shared.proto_enums`; a repeated enum is a frozenset (sorted on the
  wire, so equal sets encode to equal bytes) or a tuple;
- a `google.protobuf.Timestamp` is an aware UTC `datetime`, required and within the years
  0001..9999;
- a `map<string, V>` is a mapping sorted by key; a `None` value is left off the wire;
- a repeated two-field message is a mapping keyed by its enum first field, each key at
  most once (`GroupMembership` ↔ `Mapping[GroupDimension, str]`);
- a repeated other message is a tuple of the dataclass its hint names, each converted the
  same way;
- a oneof is a dataclass field of the oneof's name holding one of the dataclasses of its
  union hint, matched to the oneof's message by class name.

Decoding never raises for bad data: every field that cannot convert adds a `FieldError`
(its path and why) and holds `None` in the returned object, whatever its type says. Such
an object is only for judging the rest (`shared.domain.validation`) and must not go
further. A dataclass and message that do not fit together raise at import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import UnionType
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

from google._upb._message import Descriptor as UpbDescriptor
from google.protobuf.descriptor import Descriptor, FieldDescriptor, OneofDescriptor
from google.protobuf.message import Message

from shared import proto_enums
from shared.domain.validation import FieldError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["MessageShape"]

D = TypeVar("D", bound="DataclassInstance")

# Reads one field of a message: the domain value, or None after adding why it cannot be one.
_Decode = Callable[[Message, str, list[FieldError]], object]
# Writes one domain value (never None) into a message.
_Encode = Callable[[Message, Any], None]

_TIMESTAMP = "google.protobuf.Timestamp"
# The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
_TIMESTAMP_MIN_SECONDS = -62_135_596_800
_TIMESTAMP_MAX_SECONDS = 253_402_300_799


class MessageShape(Generic[D]):
    """How one domain dataclass and one protobuf message translate, field by field."""

    def __init__(
        self,
        domain: type[D],
        message_descriptor: Descriptor | UpbDescriptor,
        *,
        oneof_required: Mapping[str, str] | None = None,
    ) -> None:
        """`oneof_required` says, per oneof name, what to ask for when none of it is set."""
        self.domain = domain
        # A generated class's DESCRIPTOR is the upb runtime's, which has the same API as the
        # pure-Python Descriptor the stubs describe in full.
        descriptor = cast(Descriptor, message_descriptor)
        self.descriptor = descriptor
        hints = get_type_hints(domain)
        names = [field.name for field in dataclasses.fields(domain)]
        self._decoders: list[tuple[str, _Decode]] = []
        self._encoders: list[tuple[str, _Encode]] = []
        planned: set[str] = set()
        for field in descriptor.fields:  # in .proto order, so errors come in that order
            oneof = field.containing_oneof
            name = oneof.name if oneof is not None and oneof.name in names else field.name
            if name in planned:
                continue
            if name not in names:
                raise ImportError(
                    f"{descriptor.full_name}.{name} has no field in {domain.__name__}"
                )
            planned.add(name)
            if name == field.name:
                decode, encode = _plan_field(field, hints[name])
            else:
                assert oneof is not None  # only a oneof's name differs from its field's
                ask = (oneof_required or {}).get(name, f"set one of {name}")
                decode, encode = _plan_oneof(oneof, hints[name], ask)
            self._decoders.append((name, decode))
            self._encoders.append((name, encode))
        if missing := [name for name in names if name not in planned]:
            raise ImportError(f"{domain.__name__} fields not in {descriptor.full_name}: {missing}")

    def decode(self, message: Message, path: str, errors: list[FieldError]) -> D:
        """The domain object as far as the message converts; why the rest does not goes in `errors`."""
        values = {
            name: decode(message, f"{path}.{name}", errors) for name, decode in self._decoders
        }
        return self.domain(**values)

    def encode(self, value: D, message: Message) -> None:
        """Write the domain object into `message` (fresh or cleared)."""
        for name, encode in self._encoders:
            field_value = getattr(value, name)
            if field_value is not None:  # None: an optional field left unset
                encode(message, field_value)


def _plan_field(field: FieldDescriptor, hint: object) -> tuple[_Decode, _Encode]:
    name = field.name
    message_type = field.message_type
    if message_type is not None and message_type.full_name == _TIMESTAMP:
        return _timestamp(name)
    if message_type is not None and message_type.GetOptions().map_entry:
        return _string_map(name)
    if field.is_repeated and message_type is not None:
        if get_origin(hint) in (Mapping, dict):
            return _keyed_pairs(name, message_type)
        (item_type,) = {arg for arg in get_args(hint) if arg is not Ellipsis}
        return _repeated_messages(name, MessageShape(item_type, message_type))
    if message_type is not None:
        raise ImportError(f"{field.full_name}: a single message field has no plan")
    if field.is_repeated:
        if field.enum_type is None:
            raise ImportError(f"{field.full_name}: a repeated scalar field has no plan")
        return _repeated_enum(name, proto_enums.for_descriptor(field.enum_type), get_origin(hint))
    if field.enum_type is not None:
        return _enum(name, proto_enums.for_descriptor(field.enum_type), field.has_presence)
    return _scalar(name, field.has_presence)


def _plan_oneof(oneof: OneofDescriptor, hint: object, ask: str) -> tuple[_Decode, _Encode]:
    if get_origin(hint) not in (Union, UnionType):
        raise ImportError(f"{oneof.full_name}: the domain field must be a union of dataclasses")
    by_name = {kind.__name__: kind for kind in get_args(hint)}
    shapes: dict[str, MessageShape[Any]] = {}
    for field in oneof.fields:
        if field.message_type is None or field.message_type.name not in by_name:
            raise ImportError(f"{field.full_name} has no dataclass in the domain union")
        shapes[field.name] = MessageShape(by_name[field.message_type.name], field.message_type)
    field_of_type = {shape.domain: name for name, shape in shapes.items()}
    oneof_name = oneof.name

    def decode(message: Message, path: str, errors: list[FieldError]) -> object:
        kind = message.WhichOneof(oneof_name)
        if kind is None:
            errors.append(FieldError(path, f"is required: {ask}"))
            return None
        # The path names the member set, not the oneof: "intervention.training_session.topic".
        member_path = f"{path.removesuffix(oneof_name)}{kind}"
        return shapes[kind].decode(getattr(message, kind), member_path, errors)

    def encode(message: Message, value: Any) -> None:
        kind = field_of_type.get(type(value))
        if kind is None:
            raise TypeError(
                f"not a {oneof_name} of {oneof.containing_type.name}: {type(value).__name__}"
            )
        member = getattr(message, kind)
        member.SetInParent()  # set even when every field of it is a default
        shapes[kind].encode(value, member)

    return decode, encode


def _scalar(name: str, optional: bool) -> tuple[_Decode, _Encode]:
    def decode(message: Message, path: str, errors: list[FieldError]) -> object:
        if optional and not message.HasField(name):
            return None
        value: object = getattr(message, name)
        return value

    def encode(message: Message, value: Any) -> None:
        setattr(message, name, value)

    return decode, encode


def _enum_member(
    pair: proto_enums.ProtoEnum[Any], number: int, path: str, errors: list[FieldError]
) -> object:
    member = pair.member(number)
    if member is None:
        if number == 0:
            reason = f"is required ({pair.unspecified_name} is not a value)"
        else:
            reason = f"unknown value {number}"
        errors.append(FieldError(path, f"{reason}; one of: {pair.allowed()}"))
    return member


def _enum(name: str, pair: proto_enums.ProtoEnum[Any], optional: bool) -> tuple[_Decode, _Encode]:
    def decode(message: Message, path: str, errors: list[FieldError]) -> object:
        if optional and not message.HasField(name):
            return None  # unset optional enum: "not answered"
        return _enum_member(pair, getattr(message, name), path, errors)

    def encode(message: Message, value: Any) -> None:
        setattr(message, name, pair.number(value))

    return decode, encode


def _repeated_enum(
    name: str, pair: proto_enums.ProtoEnum[Any], container: object
) -> tuple[_Decode, _Encode]:
    as_set = container is frozenset

    def decode(message: Message, path: str, errors: list[FieldError]) -> object:
        members = [
            _enum_member(pair, number, f"{path}[{index}]", errors)
            for index, number in enumerate(getattr(message, name))
        ]
        known = (member for member in members if member is not None)
        return frozenset(known) if as_set else tuple(known)

    def encode(message: Message, value: Any) -> None:
        numbers = [pair.number(member) for member in value]
        getattr(message, name).extend(sorted(numbers) if as_set else numbers)

    return decode, encode


def _timestamp(name: str) -> tuple[_Decode, _Encode]:
    def decode(message: Message, path: str, errors: list[FieldError]) -> object:
        if not message.HasField(name):
            errors.append(FieldError(path, "is required"))
            return None
        timestamp = getattr(message, name)
        if not _TIMESTAMP_MIN_SECONDS <= timestamp.seconds <= _TIMESTAMP_MAX_SECONDS:
            errors.append(
                FieldError(path, f"seconds {timestamp.seconds} is outside the years 0001..9999")
            )
            return None
        if not 0 <= timestamp.nanos <= 999_999_999:
            errors.append(FieldError(path, f"nanos {timestamp.nanos} must be within 0..999999999"))
            return None
        moment: datetime = timestamp.ToDatetime(tzinfo=UTC)
        return moment

    def encode(message: Message, value: Any) -> None:
        # A naive datetime is taken as UTC (protobuf's rule); domain validation refuses them anyway.
        getattr(message, name).FromDatetime(value)

    return decode, encode


def _string_map(name: str) -> tuple[_Decode, _Encode]:
    def decode(message: Message, path: str, errors: list[FieldError]) -> object:
        entries = getattr(message, name)
        return {key: entries[key] for key in sorted(entries)}

    def encode(message: Message, value: Any) -> None:
        # A None value ("not answered") is left out: absence is how the wire says it.
        getattr(message, name).update({k: v for k, v in value.items() if v is not None})

    return decode, encode


def _keyed_pairs(name: str, entry_type: Descriptor) -> tuple[_Decode, _Encode]:
    key_field, value_field = entry_type.fields
    if key_field.enum_type is None:
        raise ImportError(f"{entry_type.full_name}: the key of a keyed pair must be an enum")
    pair = proto_enums.for_descriptor(key_field.enum_type)
    key_name, value_name = key_field.name, value_field.name

    def decode(message: Message, path: str, errors: list[FieldError]) -> object:
        mapping: dict[object, object] = {}
        for index, entry in enumerate(getattr(message, name)):
            key_path = f"{path}[{index}].{key_name}"
            key = _enum_member(pair, getattr(entry, key_name), key_path, errors)
            if key is None:
                continue
            if key in mapping:
                errors.append(
                    FieldError(key_path, f"{pair.domain_enum(key).value} is listed more than once")
                )
                continue
            mapping[key] = getattr(entry, value_name)
        return mapping

    def encode(message: Message, value: Any) -> None:
        entries = getattr(message, name)
        for key, entry_value in value.items():
            entries.add(**{key_name: pair.number(key), value_name: entry_value})

    return decode, encode


def _repeated_messages(name: str, shape: MessageShape[Any]) -> tuple[_Decode, _Encode]:
    def decode(message: Message, path: str, errors: list[FieldError]) -> object:
        items = []
        for index, entry in enumerate(getattr(message, name)):
            entry_errors: list[FieldError] = []
            item = shape.decode(entry, f"{path}[{index}]", entry_errors)
            errors += entry_errors
            if not entry_errors:
                items.append(item)
        return tuple(items)

    def encode(message: Message, value: Any) -> None:
        entries = getattr(message, name)
        for item in value:
            shape.encode(item, entries.add())

    return decode, encode
