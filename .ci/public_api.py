#!/usr/bin/env python3
"""List the public API of a crate from rustdoc's JSON output, one item per line.

Usage: public_api.py <crate>.json  (prints the list on stdout)

Every public path gets a line with its kind and, for functions and methods, the full
signature; structs list their public fields, enums their variants, traits their items;
each type lists its public inherent methods, the traits it implements (not blanket impls)
and, on one line, its auto traits (Send, Sync, ...). Items hidden with `#[doc(hidden)]`
are not part of the public API and are not listed. Re-exports of another crate's items
are listed as `pub use <path> = <where it comes from>` (that crate's own list has the
item itself). Used by `.ci/public-api`; needs only the Python standard library.
"""

import json
import sys

# Formats this script was written against (rustdoc JSON is unstable). Another version
# still works as long as the shapes below did not change; `.ci/public-api` says which
# version recorded the baseline when a check fails.
KNOWN_FORMATS = {57}

STABLE_AUTO_TRAITS = {"Send", "Sync", "Unpin", "UnwindSafe", "RefUnwindSafe"}

# Crates whose items users name through another crate (serde's traits live in serde_core
# since serde 1.0.220, but users write serde::Serialize): a dependency update that moves an
# item between them is not a change of our API.
CRATE_ALIASES = {"serde_core": "serde"}

# Impls the compiler adds with derives, not API.
SKIPPED_IMPLS = {"StructuralPartialEq"}

PRELUDE = {
    "Option", "Some", "None", "Result", "Ok", "Err", "String", "Vec", "Box", "ToString",
    "Into", "From", "Iterator", "IntoIterator", "Clone", "Copy", "Send", "Sync", "Sized",
    "Unpin", "Default", "Debug", "Display", "PartialEq", "Eq", "PartialOrd", "Ord", "Hash",
    "Fn", "FnMut", "FnOnce", "Drop", "AsRef", "AsMut", "TryFrom", "TryInto", "ToOwned",
    "Extend", "FromIterator", "Future", "IntoFuture", "Deref", "DerefMut",
}


class Api:
    def __init__(self, doc):
        self.doc = doc
        self.index = doc["index"]
        self.paths = doc.get("paths", {})
        self.crate = self.index[str(doc["root"])]["name"]
        self.lines = set()
        self.key = ""
        # item id -> every public path it is reachable by
        self.reach = {}

    # ---- names ---------------------------------------------------------------------------
    def item(self, item_id):
        if item_id is None:
            return None
        return self.index.get(str(item_id))

    def path_name(self, p):
        """The canonical name of a resolved path (`alloc::string::String` -> `String`)."""
        written = p.get("path", p.get("name", "?"))
        summary = self.paths.get(str(p.get("id")))
        if summary is None:
            return written
        full = summary["path"]
        if full and full[0] in ("core", "alloc", "std") and full[-1] in PRELUDE:
            return full[-1]
        if full and full[0] in CRATE_ALIASES:
            full = [CRATE_ALIASES[full[0]]] + full[1:]
        if summary.get("crate_id", 0) == 0:
            # our own item: the shortest public path we found, else where it is defined
            paths = self.reach.get(p.get("id"))
            if paths:
                return min(paths, key=lambda s: (s.count("::"), s))
        return "::".join(full)

    # ---- types ---------------------------------------------------------------------------
    def ty(self, t):
        if t is None:
            return "_"
        if isinstance(t, str):
            return t  # "infer" in some versions
        (kind, v), = t.items()
        if kind == "resolved_path":
            return self.path_name(v) + self.generic_args(v.get("args"))
        if kind == "generic":
            return v
        if kind == "primitive":
            return v
        if kind == "tuple":
            if len(v) == 1:
                return "(" + self.ty(v[0]) + ",)"
            return "(" + ", ".join(self.ty(x) for x in v) + ")"
        if kind == "slice":
            return "[" + self.ty(v) + "]"
        if kind == "array":
            return "[" + self.ty(v["type"]) + "; " + str(v["len"]) + "]"
        if kind == "borrowed_ref":
            lt = (v["lifetime"] + " ") if v.get("lifetime") else ""
            mut = "mut " if v.get("is_mutable") else ""
            return "&" + lt + mut + self.ty(v["type"])
        if kind == "raw_pointer":
            return ("*mut " if v.get("is_mutable") else "*const ") + self.ty(v["type"])
        if kind == "dyn_trait":
            parts = [self.poly_trait(x) for x in v.get("traits", [])]
            if v.get("lifetime"):
                parts.append(v["lifetime"])
            return "dyn " + " + ".join(parts)
        if kind == "impl_trait":
            return "impl " + self.bounds(v)
        if kind == "function_pointer":
            hrtb = self.hrtb(v.get("generic_params", []))
            return hrtb + self.header(v.get("header", {})) + "fn" + self.sig_args(v["sig"], names=False)
        if kind == "qualified_path":
            trait = v.get("trait")
            self_ty = self.ty(v["self_type"])
            base = "<" + self_ty + " as " + self.path_name(trait) + self.generic_args(trait.get("args")) + ">" if trait else self_ty
            return base + "::" + v["name"] + self.generic_args(v.get("args"))
        if kind == "pat":
            return self.ty(v.get("type")) + " is " + str(v.get("__pat_unstable_do_not_use", "_"))
        if kind == "infer":
            return "_"
        return "?" + kind

    def generic_args(self, a):
        if not a:
            return ""
        if isinstance(a, str):
            return "(..)"  # return type notation
        (kind, v), = a.items()
        if kind == "angle_bracketed":
            parts = [self.generic_arg(x) for x in v.get("args", [])]
            for c in v.get("constraints", v.get("bindings", [])):
                parts.append(self.constraint(c))
            return "<" + ", ".join(parts) + ">" if parts else ""
        if kind == "parenthesized":
            out = "(" + ", ".join(self.ty(x) for x in v.get("inputs", [])) + ")"
            if v.get("output") is not None:
                out += " -> " + self.ty(v["output"])
            return out
        return "<?" + kind + ">"

    def generic_arg(self, g):
        if isinstance(g, str):
            return "_"
        (kind, v), = g.items()
        if kind == "lifetime":
            return v
        if kind == "type":
            return self.ty(v)
        if kind == "const":
            return v.get("expr", "?")
        return "?"

    def constraint(self, c):
        name = c["name"] + self.generic_args(c.get("args"))
        b = c.get("binding")
        if isinstance(b, dict):
            (kind, v), = b.items()
            if kind == "equality":
                return name + " = " + self.term(v)
            if kind == "constraint":
                return name + ": " + self.bounds(v)
        return name

    def term(self, t):
        (kind, v), = t.items()
        if kind == "type":
            return self.ty(v)
        return v.get("expr", "?") if isinstance(v, dict) else str(v)

    def bound(self, b):
        if isinstance(b, str):
            return b
        (kind, v), = b.items()
        if kind == "trait_bound":
            mod = {"maybe": "?", "maybe_const": "~const "}.get(v.get("modifier"), "")
            return mod + self.poly_trait(v)
        if kind == "outlives":
            return v
        if kind == "use":
            return "use<" + ", ".join(x if isinstance(x, str) else list(x.values())[0] for x in v) + ">"
        return "?" + kind

    def bounds(self, bs):
        return " + ".join(self.bound(b) for b in bs)

    def poly_trait(self, v):
        t = v["trait"]
        return self.hrtb(v.get("generic_params", [])) + self.path_name(t) + self.generic_args(t.get("args"))

    def hrtb(self, params):
        if not params:
            return ""
        return "for<" + ", ".join(p["name"] for p in params) + "> "

    # ---- generics and signatures ---------------------------------------------------------
    def generics(self, g):
        params = []
        for p in (g or {}).get("params", []):
            (kind, v), = p["kind"].items()
            if kind == "lifetime":
                out = v.get("outlives") or []
                params.append(p["name"] + (": " + " + ".join(out) if out else ""))
            elif kind == "type":
                if v.get("is_synthetic"):
                    continue  # `impl Trait` in argument position, shown there
                s = p["name"]
                if v.get("bounds"):
                    s += ": " + self.bounds(v["bounds"])
                if v.get("default") is not None:
                    s += " = " + self.ty(v["default"])
                params.append(s)
            elif kind == "const":
                s = "const " + p["name"] + ": " + self.ty(v["type"])
                if v.get("default") is not None:
                    s += " = " + v["default"]
                params.append(s)
        return "<" + ", ".join(params) + ">" if params else ""

    def where_clause(self, g):
        preds = []
        for w in (g or {}).get("where_predicates", []):
            (kind, v), = w.items()
            if kind == "bound_predicate":
                preds.append(self.hrtb(v.get("generic_params", [])) + self.ty(v["type"]) + ": " + self.bounds(v["bounds"]))
            elif kind == "lifetime_predicate":
                preds.append(v["lifetime"] + ": " + " + ".join(v["outlives"]))
            elif kind == "eq_predicate":
                preds.append(self.ty(v["lhs"]) + " == " + self.term(v["rhs"]))
        return " where " + ", ".join(preds) if preds else ""

    def header(self, h):
        s = ""
        if h.get("is_const"):
            s += "const "
        if h.get("is_async"):
            s += "async "
        if h.get("is_unsafe"):
            s += "unsafe "
        abi = h.get("abi", "Rust")
        if abi != "Rust":
            s += 'extern "' + (abi if isinstance(abi, str) else list(abi)[0]) + '" '
        return s

    def sig_args(self, sig, names=True):
        args = []
        for name, t in sig["inputs"]:
            if names and name == "self":
                rendered = self.ty(t)
                args.append({"Self": "self", "&Self": "&self", "&mut Self": "&mut self"}.get(rendered, "self: " + rendered))
            elif names:
                args.append(name + ": " + self.ty(t))
            else:
                args.append(self.ty(t))
        if sig.get("is_c_variadic"):
            args.append("...")
        out = "(" + ", ".join(args) + ")"
        if sig.get("output") is not None:
            out += " -> " + self.ty(sig["output"])
        return out

    def fn(self, name, f):
        return (self.header(f.get("header", {})) + "fn " + name + self.generics(f.get("generics"))
                + self.sig_args(f["sig"]) + self.where_clause(f.get("generics")))

    # ---- items ---------------------------------------------------------------------------
    def attrs(self, item):
        out = []
        for a in item.get("attrs", []):
            if a == "non_exhaustive" or a == "#[non_exhaustive]":
                out.append("#[non_exhaustive] ")
        if item.get("deprecation"):
            out.append("#[deprecated] ")
        return "".join(out)

    def add(self, line, first=False):
        """Record a line under the current item; the list is sorted by item path, the item's
        own line first, then its members."""
        self.lines.add((self.key, 0 if first else 1, line))

    def walk(self, module_id, prefix, stack=()):
        """Record every public path under a module (following re-exports)."""
        if module_id in stack:
            return
        module = self.item(module_id)
        for child_id in module["inner"]["module"]["items"]:
            child = self.item(child_id)
            if child is None:
                continue
            (kind, v), = child["inner"].items() if isinstance(child["inner"], dict) else ((child["inner"], None),)
            if kind == "use":
                target = self.item(v.get("id"))
                if v.get("is_glob"):
                    if target is not None and "module" in target["inner"]:
                        self.walk(v["id"], prefix, stack + (module_id,))
                    else:
                        self.add("pub use " + prefix + "::* = " + self.foreign(v) + "::*")
                    continue
                path = prefix + "::" + v["name"]
                if target is None:
                    self.add("pub use " + path + " = " + self.foreign(v))
                    continue
                self.reach_item(v["id"], target, path, stack + (module_id,))
                continue
            if child.get("name") is None or child.get("visibility") not in ("public", None):
                continue
            self.reach_item(child_id, child, prefix + "::" + child["name"], stack + (module_id,))

    def foreign(self, use):
        summary = self.paths.get(str(use.get("id")))
        return "::".join(summary["path"]) if summary else use["source"]

    def reach_item(self, item_id, item, path, stack):
        self.reach.setdefault(item_id, []).append(path)
        if isinstance(item["inner"], dict) and "module" in item["inner"]:
            self.walk(item_id, path, stack)

    def render_all(self):
        root = self.doc["root"]
        self.reach[root] = [self.crate]
        self.walk(root, self.crate)
        for item_id, paths in self.reach.items():
            item = self.item(item_id)
            canonical = min(paths, key=lambda s: (s.count("::"), s))
            for path in paths:
                self.render(item, path, with_members=(path == canonical))

    def render(self, item, path, with_members):
        self.key = path
        inner = item["inner"]
        (kind, v), = inner.items() if isinstance(inner, dict) else ((inner, None),)
        a = self.attrs(item)
        if kind == "module":
            self.add(a + "pub mod " + path, first=True)
        elif kind == "struct":
            g = self.generics(v["generics"])
            wc = self.where_clause(v["generics"])
            sk = v["kind"]
            if sk == "unit":
                self.add(a + "pub struct " + path + g + wc + ";", first=True)
            elif "tuple" in sk:
                fields = ["pub " + self.ty(self.item(f)["inner"]["struct_field"]) if f is not None else "_" for f in sk["tuple"]]
                self.add(a + "pub struct " + path + g + "(" + ", ".join(fields) + ")" + wc + ";", first=True)
            else:
                plain = sk["plain"]
                stripped = " { /* private fields */ }" if plain.get("has_stripped_fields") else ""
                self.add(a + "pub struct " + path + g + wc + stripped, first=True)
                for f in plain["fields"]:
                    fi = self.item(f)
                    self.add("pub " + path + "::" + fi["name"] + ": " + self.ty(fi["inner"]["struct_field"]))
            if with_members:
                self.impls(path, v.get("impls", []))
        elif kind == "union":
            self.add(a + "pub union " + path + self.generics(v["generics"]), first=True)
            if with_members:
                self.impls(path, v.get("impls", []))
        elif kind == "enum":
            g = self.generics(v["generics"])
            stripped = " { /* hidden variants */ }" if v.get("has_stripped_variants") else ""
            self.add(a + "pub enum " + path + g + self.where_clause(v["generics"]) + stripped, first=True)
            for var_id in v["variants"]:
                var = self.item(var_id)
                self.add(self.attrs(var) + "variant " + path + "::" + self.variant(var))
            if with_members:
                self.impls(path, v.get("impls", []))
        elif kind == "function":
            self.add(a + "pub " + self.fn(path, v))
        elif kind == "trait":
            head = "pub " + ("unsafe " if v.get("is_unsafe") else "") + ("auto " if v.get("is_auto") else "") + "trait "
            bounds = ": " + self.bounds(v["bounds"]) if v.get("bounds") else ""
            self.add(a + head + path + self.generics(v["generics"]) + bounds + self.where_clause(v["generics"]), first=True)
            if with_members:
                for m in v["items"]:
                    self.assoc(path, self.item(m), in_trait=True)
                for i in v.get("implementations", []):
                    impl = self.item(i)
                    if impl is not None and impl["inner"]["impl"].get("blanket_impl") is None:
                        self.add(self.impl_line(impl["inner"]["impl"]))
        elif kind == "trait_alias":
            self.add(a + "pub trait " + path + self.generics(v["generics"]) + " = " + self.bounds(v["params"]))
        elif kind == "type_alias":
            self.add(a + "pub type " + path + self.generics(v["generics"]) + " = " + self.ty(v["type"]))
        elif kind == "constant":
            self.add(a + "pub const " + path + ": " + self.ty(v["type"]))
        elif kind == "static":
            self.add(a + "pub static " + ("mut " if v.get("is_mutable") else "") + path + ": " + self.ty(v["type"]))
        elif kind == "macro":
            self.add(a + "macro " + path + "!")
        elif kind == "proc_macro":
            self.add(a + "proc-macro " + path)
        elif kind == "extern_crate":
            self.add(a + "pub extern crate " + path)
        elif kind in ("primitive",):
            pass
        else:
            self.add(a + kind + " " + path)

    def variant(self, var):
        v = var["inner"]["variant"]
        kind = v["kind"]
        name = var["name"]
        if kind == "plain":
            s = name
        elif "tuple" in kind:
            s = name + "(" + ", ".join(self.ty(self.item(f)["inner"]["struct_field"]) if f is not None else "_" for f in kind["tuple"]) + ")"
        else:
            st = kind["struct"]
            fields = [self.item(f)["name"] + ": " + self.ty(self.item(f)["inner"]["struct_field"]) for f in st["fields"]]
            if st.get("has_stripped_fields"):
                fields.append("..")
            s = name + " { " + ", ".join(fields) + " }"
        if v.get("discriminant"):
            s += " = " + v["discriminant"].get("expr", "?")
        return s

    def assoc(self, path, item, in_trait):
        if item is None:
            return
        (kind, v), = item["inner"].items()
        pub = "" if in_trait else "pub "
        a = self.attrs(item)
        if kind == "function":
            body = " { .. }" if in_trait and v.get("has_body") else ""
            self.add(a + pub + self.fn(path + "::" + item["name"], v) + body)
        elif kind == "assoc_const":
            self.add(a + pub + "const " + path + "::" + item["name"] + ": " + self.ty(v["type"]))
        elif kind == "assoc_type":
            s = "type " + path + "::" + item["name"] + self.generics(v.get("generics"))
            if v.get("bounds"):
                s += ": " + self.bounds(v["bounds"])
            if v.get("type") is not None:
                s += " = " + self.ty(v["type"])
            self.add(a + pub + s)

    def impl_line(self, v):
        trait = v["trait"]
        head = "impl" + self.generics(v["generics"]) + " " + ("!" if v.get("is_negative") else "")
        where = self.where_clause(v["generics"])
        if "__private" in where or "__Origin" in where:
            # pin-project-lite's `Unpin` impl names its private helper types, which change
            # between its versions: say what it means instead
            head = "impl "
            where = " where its pinned fields are Unpin"
        return (head + self.path_name(trait) + self.generic_args(trait.get("args")) + " for "
                + self.ty(v["for"]) + where)

    def impls(self, path, impl_ids):
        autos = []
        for i in impl_ids:
            impl = self.item(i)
            if impl is None:
                continue
            v = impl["inner"]["impl"]
            if v.get("blanket_impl") is not None:
                continue
            trait = v.get("trait")
            if v.get("is_synthetic"):
                # only the stable auto traits: the compiler-internal ones (Freeze, ...) come
                # and go between toolchains
                name = trait.get("path", "").split("::")[-1]
                if name in STABLE_AUTO_TRAITS:
                    autos.append(("!" if v.get("is_negative") else "") + name)
                continue
            if trait is not None and trait.get("path", "").split("::")[-1] in SKIPPED_IMPLS:
                continue
            if trait is None:
                for m in v["items"]:
                    member = self.item(m)
                    if member is not None and member.get("visibility") == "public":
                        self.assoc(path, member, in_trait=False)
                continue
            self.add(self.impl_line(v))
        if autos:
            self.add("auto traits of " + path + ": " + ", ".join(sorted(autos)))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    api = Api(doc)
    api.render_all()
    version = doc.get("format_version")
    note = "" if version in KNOWN_FORMATS else " (not a format this script was written for)"
    print("# public API of " + api.crate + ", from rustdoc JSON format " + str(version) + note)
    print("# re-record after an intended change: .ci/public-api bless")
    for _, _, line in sorted(api.lines):
        print(line)


if __name__ == "__main__":
    main()
