#!/usr/bin/env python3
"""Checks a Python app against the jsii-generated bindings without importing them.

Used where no jsii Python runtime can be installed (no PyPI): every ``phx.Name`` the app uses must be a class of the
bindings, every keyword of a call a parameter of that class's ``__init__`` (or of the named static method), every
required keyword given, and every ``phx.Enum.MEMBER`` a member. Python's own ``ast`` reads both files; a type checker
(mypy) would need PyPI too.

Usage: check_bindings.py <bindings __init__.py> <app.py> [module alias, default phx]
Prints one line per finding and exits 1 when there is any, 0 otherwise.
"""
import ast
import sys


def signature(fn):
    """(all keyword names, required keyword names) of a function definition."""
    names = {a.arg for a in fn.args.kwonlyargs} | {a.arg for a in fn.args.args}
    required = {a.arg for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is None}
    return names, required


def read_bindings(path):
    """Class name -> {"init": signature or None, "methods": {name: signature}, "members": set of attributes}."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    classes = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        info = {"init": None, "methods": {}, "members": set()}
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                if item.name == "__init__":
                    info["init"] = signature(item)
                else:
                    info["methods"][item.name] = signature(item)
            elif isinstance(item, ast.Assign):
                info["members"].update(t.id for t in item.targets if isinstance(t, ast.Name))
        classes[node.name] = info
    return classes


def check_keywords(where, call, sig, findings):
    names, required = sig
    given = {k.arg for k in call.keywords if k.arg is not None}
    for k in sorted(given - names):
        findings.append(f"{where}: unknown keyword {k} (allowed: {', '.join(sorted(names - {'self', 'cls'}))})")
    for k in sorted(required - given):
        findings.append(f"{where}: required keyword {k} missing")


def check_app(path, classes, alias):
    tree = ast.parse(open(path, encoding="utf-8").read())
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            line = f"{path}:{node.lineno}"
            if isinstance(f.value, ast.Name) and f.value.id == alias:
                cls = classes.get(f.attr)
                if cls is None:
                    findings.append(f"{line}: {alias}.{f.attr} is not a class of the bindings")
                elif cls["init"] is not None:
                    check_keywords(f"{line} {f.attr}", node, cls["init"], findings)
            elif isinstance(f.value, ast.Attribute) and isinstance(f.value.value, ast.Name) and f.value.value.id == alias:
                cls = classes.get(f.value.attr)
                method = cls and cls["methods"].get(f.attr)
                if not method:
                    findings.append(f"{line}: {alias}.{f.value.attr}.{f.attr} is not a method of the bindings")
                else:
                    check_keywords(f"{line} {f.value.attr}.{f.attr}", node, method, findings)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            inner = node.value
            if isinstance(inner.value, ast.Name) and inner.value.id == alias and inner.attr in classes:
                cls = classes[inner.attr]
                if node.attr not in cls["members"] and node.attr not in cls["methods"]:
                    findings.append(f"{path}:{node.lineno}: {alias}.{inner.attr}.{node.attr} is not a member of the bindings")
    return findings


def main(argv):
    if len(argv) not in (3, 4):
        print("usage: check_bindings.py <bindings __init__.py> <app.py> [alias]", file=sys.stderr)
        return 2
    classes = read_bindings(argv[1])
    findings = check_app(argv[2], classes, argv[3] if len(argv) == 4 else "phx")
    for f in findings:
        print(f)
    uses = sum(1 for n in ast.walk(ast.parse(open(argv[2], encoding="utf-8").read())) if isinstance(n, ast.Call))
    print(f"checked {argv[2]} against {len(classes)} classes of the bindings: {uses} calls, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
