"""What the dynamic providers share: run-time configuration, one client per host, small pickles.

The provider host (``python -m pulumi.dynamic``) unpickles each ``__provider`` value once, calls
``configure()`` with the whole stack config, and caches the object. Our provider objects pickle by
reference to their class (``__reduce__``), so the ``__provider`` value is a few dozen bytes, the same
for every resource and every run, and can never carry a credential, a client or a token. The
credentials are resolved at run time in the host, and one :class:`~pulumi_imburse.client.ImburseClient`
(and so one bearer token) serves every resource of every Imburse type in that process: the process's
:class:`~pulumi_imburse.ledger.Ledger` holds it (see :mod:`pulumi_imburse.ledger` for where it lives).
"""

from __future__ import annotations

import copy
import functools
import inspect
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, cast

import pulumi
from pulumi.dynamic import ConfigureRequest, DiffResult, ResourceProvider

from . import config as settings
from .client import ImburseClient
from .errors import ImburseError
from .keys.deliver import Delivery
from .ledger import PROCESS_LEDGER, Ledger
from .lifeline import watch_parent
from .shapes import Face, Shape, spell
from .stores import SecretStore
from .stores.destination import StoreConfig, is_store
from .validation import Problem
from .values import UNKNOWN, is_unknown

__all__ = ["PROVIDER_KEY", "UNKNOWN", "URN_KEY", "DetailedDiff", "ImburseProvider", "WireNames", "declared_inputs",
           "document_init", "failures", "is_unknown", "owner_of", "split_args", "strip_provider",
           "with_secret_outputs", "with_urn"]

PROVIDER_KEY = "__provider"
URN_KEY = "__urn"
"""The internal input naming a resource's URN, the owner of its creates in the create journal
(:mod:`pulumi_imburse.journal`): the dynamic resources compute it in their constructor (the dynamic provider host
passes no URN), the plugin sets it from the engine's request. Kept in Check's result (so Create gets it), never
diffed, never an output."""


class ImburseProvider(ResourceProvider):
    """Base of the Imburse dynamic providers: configuration and pickling, no resource logic."""

    # Decided deliberately: the serialized provider is a reference to this class and nothing else
    # (see __reduce__), so it holds no secret and need not be encrypted in state. Keeping it plain
    # keeps `__provider` identical across runs and lets anyone check it holds no credential. If a
    # subclass ever captured a secret Output, the SDK would still mark it secret.
    serialize_as_secret_always = False

    def __init__(self, client: Callable[[], ImburseClient] | None = None, ledger: Ledger | None = None,
                 face: Face = "python", stores: Callable[[], StoreConfig] | None = None) -> None:
        """``client``: where the resource rules get their client. Default: the ledger's client (the stack config
        the engine sent this process, else ``IMBURSE_*``), the dynamic path's; the provider plugin
        (:mod:`pulumi_imburse.plugin`) passes the client of its own provider instance's credentials, so an explicit
        provider's account is used. ``ledger``: the memory this provider shares with the others of its process
        (:mod:`pulumi_imburse.ledger`); default: :data:`~pulumi_imburse.ledger.PROCESS_LEDGER`, which is what the
        dynamic provider host gets (it builds providers with no arguments). ``face``: how the user's language names
        properties in this provider's messages (:func:`~pulumi_imburse.shapes.spell`): the dynamic resources'
        ``python`` (``rotation_days``), the plugin's ``wire`` (``rotationDays``). ``stores``: where the rules get the
        secret stores' settings (the default destination, the Vault token); default: the ledger's (stack config)."""
        self._client_source = client
        self._stores_source = stores
        self.ledger = ledger if ledger is not None else PROCESS_LEDGER
        self.face: Face = face

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _OPERATIONS:
            if name in cls.__dict__:
                setattr(cls, name, _operation(cls.__dict__[name], name))

    def __reduce__(self) -> tuple[type[ImburseProvider], tuple[()]]:
        # Pickle by reference: dill stores "module.ClassName" only. Nothing configured at run time
        # (credentials, clients, tokens, an injected client source, the ledger) can reach the `__provider` value.
        return (type(self), ())

    def configure(self, req: ConfigureRequest) -> None:
        """Take the stack config sent by the engine; credentials are resolved on first API call."""
        values = {k: req.config.get(k) for k in (*(s.config_key for s in settings.SETTINGS), settings.DESTINATION_KEY)}
        self.ledger.configure({k: v for k, v in values.items() if v is not None})
        # Only the dynamic provider host calls this. It reports a failed operation as `traceback.format_exc()`,
        # which honours sys.tracebacklimit: with 0, the user reads "<error type>: <message>", one readable
        # message as the plugin gives, not a Python traceback. An unexpected error keeps its traceback inside its
        # message (see _operation), so nothing needed to debug is lost.
        sys.tracebacklimit = 0
        watch_parent("imburse dynamic provider host")  # exit when the engine goes away (pulumi_imburse.lifeline)

    def config_failures(self) -> list[pulumi.dynamic.CheckFailure]:
        """Check's failures for the dynamic path's provider settings (the base URL), at preview, before any API
        call; the plugin checks its own in CheckConfig. Empty for an injected client (the plugin's)."""
        if self._client_source is not None:
            return []
        problem = self.ledger.base_url_failure()
        # No property: it is not one of the resource's, and the engine would print a value beside it. The reason
        # names the setting.
        return [pulumi.dynamic.CheckFailure("", problem)] if problem else []

    @property
    def client(self) -> ImburseClient:
        """The injected client, else the ledger's client (shared by every provider of the process)."""
        return self._client_source() if self._client_source is not None else self.ledger.client()

    @property
    def stores(self) -> StoreConfig:
        """The secret stores' settings: the injected ones (the plugin's provider instance), else the ledger's."""
        return self._stores_source() if self._stores_source is not None else self.ledger.store_config()

    def delivery(self, destination: Any) -> Delivery:
        """Where a create of a key whose resolved destination is ``destination`` delivers its private key."""
        return Delivery(destination, self.stores.open)

    def store_of(self, props: Mapping[str, Any]) -> SecretStore | None:
        """The store a key's ``destination`` (in its inputs or outputs ``props``) names, or ``None`` (no store)."""
        destination = props.get("destination")
        return self.stores.open(destination) if isinstance(destination, Mapping) and is_store(destination) else None

    def spell(self, text: str) -> str:
        """``text`` with its property names as this provider's users write them (see ``face``)."""
        return spell(text, self.face)

    def warn(self, message: str) -> None:
        """Tell the user ``message`` as a warning in the CLI's output."""
        pulumi.log.warn(self.spell(message))

    def info(self, message: str) -> None:
        """Tell the user ``message`` in the CLI's output (what an update did)."""
        pulumi.log.info(self.spell(message))

    def say_once(self, message: str) -> None:
        """Log ``message`` once per ledger (provider process): the engine diffs a resource again after a refresh."""
        if self.ledger.said.claim(message):
            self.info(message)

    def failures(self, problems: list[Problem]) -> list[pulumi.dynamic.CheckFailure]:
        """Check failures for ``problems``, named as this provider's users write them (see :func:`failures`)."""
        return failures(problems, self.face)


class DetailedDiff(DiffResult):
    """A diff that also names each property that differs (``diffs``, the ``replaces`` among them).

    The provider plugin sends them as the engine's detailed diff, so the CLI shows the property that forces a
    replacement (``[diff: ~rotationDays]``) even when its value did not change (a rotation due); the dynamic
    provider host has no detailed diff and reads only ``changes`` and ``replaces``."""

    def __init__(self, *, replaces: list[str], updates: list[str]) -> None:
        super().__init__(changes=bool(replaces or updates), replaces=replaces)
        self.diffs = [*replaces, *(k for k in updates if k not in replaces)]


def failures(problems: list[Problem], face: Face = "wire") -> list[pulumi.dynamic.CheckFailure]:
    """Check failures for ``problems``, their reasons spelled for ``face``.

    The engine shows a failure of a property as ``property <name> value <value> has a problem: <reason>``, ``<name>``
    being the wire name it looks the value up by (so it stays the wire name on every face); the reason names the
    property as the program does."""
    return [pulumi.dynamic.CheckFailure(p.property, spell(p.reason, face))
            for p in problems]


_OPERATIONS = ("check", "diff", "create", "read", "update", "delete")


class UnexpectedError(ImburseError):
    """An error the provider did not foresee (a bug): its message carries the original error and traceback."""


def _operation(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``fn`` (a provider operation) such that a failure is an :class:`ImburseError` with a readable message, and
    Check also reports the provider settings' failures (:meth:`ImburseProvider.config_failures`)."""

    @functools.wraps(fn)
    def run(self: ImburseProvider, *args: Any) -> Any:
        try:
            result = fn(self, *args)
        except (ImburseError, ValueError):
            raise
        except Exception as exc:
            trace = "".join(traceback.format_exception(exc, limit=50))
            raise UnexpectedError(f"{name} failed unexpectedly (please report this): {trace}") from None
        if name == "check":
            extra = self.config_failures()
            if extra:
                result.failures = [*(result.failures or []), *extra]
            urn = args[1].get(URN_KEY) if len(args) > 1 and isinstance(args[1], Mapping) else None
            if urn is not None and result.inputs is not None:
                result.inputs = {**result.inputs, URN_KEY: urn}  # the internal input reaches Create
        return result

    return run


def strip_provider(props: Mapping[str, Any]) -> dict[str, Any]:
    """``props`` without the dynamic provider's own ``__provider`` entry and the internal ``__urn``."""
    return {k: v for k, v in props.items() if k not in (PROVIDER_KEY, URN_KEY)}


def owner_of(props: Mapping[str, Any]) -> str:
    """The URN in ``props`` (:data:`URN_KEY`), or ``""`` when unknown (a create then settles nothing by it)."""
    urn = props.get(URN_KEY)
    return urn if isinstance(urn, str) and not is_unknown(urn) else ""


def with_urn(props: dict[str, Any], resource_name: str, type_token: str,
             opts: pulumi.ResourceOptions | None) -> dict[str, Any]:
    """``props`` with the resource's URN as the internal input :data:`URN_KEY`, as the engine will name it: the
    stack's project and stack, the parent's type chain and ``type_token``."""
    parent = opts.parent if opts is not None else None
    if parent is None:
        return {**props, URN_KEY: pulumi.create_urn(resource_name, type_token)}
    # The parent's URN, without the dependency on the parent its `urn` output carries (the SDK refuses a resource
    # that depends on its own parent as a cycle): an Output of the same value, known and secret as it is.
    urn = parent.urn
    parent_urn = cast("pulumi.Output[str]", pulumi.Output(set(), urn.future(), urn.is_known(), urn.is_secret()))
    return {**props, URN_KEY: pulumi.create_urn(resource_name, type_token, parent=parent_urn)}


def declared_inputs(news: Mapping[str, Any], inputs: Sequence[str], outputs: Sequence[str]) -> dict[str, Any]:
    """The inputs Check receives, without ``__provider`` and without the output-only names.

    The resource classes declare every output as a ``None`` input (so the SDK creates its attribute);
    those are not inputs. An output-only name with a value is kept, so Check reports it as unknown.
    """
    result = strip_provider(news)
    for name in outputs:
        if name not in inputs and result.get(name) is None:
            result.pop(name, None)
    return result


class WireNames:
    """Python (snake_case) attribute names over the API's camelCase wire names, as Pulumi's SDKs do.

    A resource class lists ``_py_names`` (wire name -> Python name); the SDK calls these methods to
    name what it sends the engine and the attributes it sets from the engine's answer.
    """

    _py_names: ClassVar[Mapping[str, str]] = {}
    _wire_names: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)  # dynamic.Resource takes module= and name= here
        cls._wire_names = {py: wire for wire, py in cls._py_names.items()}

    def translate_output_property(self, prop: str) -> str:
        return self._py_names.get(prop, prop)

    def translate_input_property(self, prop: str) -> str:
        return self._wire_names.get(prop, prop)


def split_args(args_cls: type[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """Accept ``(name, Args, opts)`` and ``(name, opts=..., **fields)``, as Pulumi's SDKs do."""
    if args and isinstance(args[0], args_cls):
        opts = args[1] if len(args) > 1 else kwargs.pop("opts", None)
        if kwargs:
            raise TypeError(f"unexpected arguments with {args_cls.__name__}: {', '.join(sorted(kwargs))}")
        return args[0], opts
    if "args" in kwargs and isinstance(kwargs["args"], args_cls):
        args_obj = kwargs.pop("args")
        return args_obj, kwargs.pop("opts", args[0] if args else None)
    opts = args[0] if args else kwargs.pop("opts", None)
    return args_cls(**kwargs), opts


def with_secret_outputs(opts: pulumi.ResourceOptions | None, names: Sequence[str]) -> pulumi.ResourceOptions:
    """``opts`` with ``names`` merged into ``additional_secret_outputs`` (the user's entries are kept)."""
    # Returning a secret from a dynamic provider does not survive the host (it answers
    # acceptSecrets=False), so the engine must be told by name which outputs are secret.
    # (ResourceOptions.merge would concatenate the lists and repeat the user's entries.)
    opts = copy.copy(opts) if opts is not None else pulumi.ResourceOptions()
    merged = list(opts.additional_secret_outputs or [])
    merged += [n for n in names if n not in merged]
    opts.additional_secret_outputs = merged
    return opts


def document_init(resource_cls: type[Any], args_cls: type[Any], shape: Shape) -> None:
    """Make ``help()`` and IDEs show a resource's inputs and outputs, as ``shape`` declares them.

    The resource's ``__init__`` takes ``(resource_name, args, opts)`` or ``(resource_name, opts, **inputs)``
    (see :func:`split_args`), so its own signature is ``*args, **kwargs``. This gives it the signature of
    the keyword form, with every input of ``args_cls`` and its annotation, and the inputs' descriptions (what
    each input does and what a change of it forces), which become the Args docstring too; the class docstring
    gains the list of its outputs.
    """
    fields = list(inspect.signature(args_cls.__init__).parameters.values())[1:]
    kw, pos = inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD
    init = resource_cls.__init__
    init.__signature__ = inspect.Signature([
        inspect.Parameter("self", pos),
        inspect.Parameter("resource_name", pos, annotation="str"),
        inspect.Parameter("args", pos, default=None, annotation=f"{args_cls.__name__} | None"),
        inspect.Parameter("opts", pos, default=None, annotation="pulumi.ResourceOptions | None"),
        *(f.replace(kind=kw) for f in fields),
    ], return_annotation="None")
    inputs = shape.param_doc()
    args_cls.__init__.__doc__ = inputs
    init.__doc__ = (
        f"Declare a {resource_cls.__name__}: ``{resource_cls.__name__}(resource_name, {args_cls.__name__}(...), "
        f"opts)`` or ``{resource_cls.__name__}(resource_name, opts=..., **inputs)``.\n\n"
        f":param resource_name: the Pulumi resource name (unique in the stack).\n"
        f":param args: the inputs as a :class:`{args_cls.__name__}`, or give them as keywords.\n"
        f":param opts: the resource options.\n{inputs}\n"
    )
    hints = inspect.get_annotations(resource_cls)
    outputs = [f"    {p.py}: {hints.get(p.py, p.output_type)}\n        {p.output_doc}" for p in shape.rows]
    resource_cls.__doc__ = f"{inspect.cleandoc(resource_cls.__doc__ or '')}\n\nOutputs (``pulumi.Output``):\n\n" + (
        "\n".join(outputs) + "\n")
