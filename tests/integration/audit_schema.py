#!/usr/bin/env python3
"""Checks audit events (one JSON object per line, files on the command line) against the
upstream audit.k8s.io/v1 Event type (k8s.io/apiserver/pkg/apis/audit/v1/types.go) as
written from that definition: every field the gateway writes must exist there with the
JSON type Go's encoding gives it, the non-omitempty fields must be present, enums must
hold one of their values, timestamps are metav1.MicroTime (RFC 3339, 6 fractional digits,
UTC). Prints each violation and exits 1 if there is any."""
import json
import re
import sys

MICRO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
STR, INT, OBJ = "string", "int", "object"
STRS = ("array", STR)

USER = {"username": STR, "uid": STR, "groups": STRS, "extra": ("map", STRS)}
OBJECT_REF = {"resource": STR, "namespace": STR, "name": STR, "uid": STR, "apiGroup": STR,
              "apiVersion": STR, "resourceVersion": STR, "subresource": STR}
STATUS = {"kind": STR, "apiVersion": STR, "metadata": ("struct", {"selfLink": STR,
          "resourceVersion": STR, "continue": STR, "remainingItemCount": INT}),
          "status": STR, "message": STR, "reason": STR, "details": OBJ, "code": INT}
EVENT = {"kind": STR, "apiVersion": STR, "level": STR, "auditID": STR, "stage": STR,
         "requestURI": STR, "verb": STR, "user": ("struct", USER),
         "impersonatedUser": ("struct", USER), "sourceIPs": STRS, "userAgent": STR,
         "objectRef": ("struct", OBJECT_REF), "responseStatus": ("struct", STATUS),
         "requestObject": OBJ, "responseObject": OBJ, "requestReceivedTimestamp": STR,
         "stageTimestamp": STR, "annotations": ("map", STR)}
REQUIRED = ["level", "auditID", "stage", "requestURI", "verb", "user",
            "requestReceivedTimestamp", "stageTimestamp"]  # no omitempty in types.go
ENUMS = {"level": {"None", "Metadata", "Request", "RequestResponse"},
         "stage": {"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}}
STATUS_VALUES = {"Success", "Failure"}


def check(v, t, where, errs):
    if t == STR:
        ok = isinstance(v, str)
    elif t == INT:
        ok = isinstance(v, int) and not isinstance(v, bool)
    elif t == OBJ:
        ok = isinstance(v, dict)
    elif t[0] == "array":
        ok = isinstance(v, list)
        for i, x in enumerate(v if ok else []):
            check(x, t[1], f"{where}[{i}]", errs)
    elif t[0] == "map":
        ok = isinstance(v, dict)
        for k, x in (v.items() if ok else []):
            check(x, t[1], f"{where}.{k}", errs)
    else:  # struct: known fields only
        ok = isinstance(v, dict)
        for k, x in (v.items() if ok else []):
            if k not in t[1]:
                errs.append(f"{where}.{k}: no such field in the upstream type")
            else:
                check(x, t[1][k], f"{where}.{k}", errs)
    if not ok:
        errs.append(f"{where}: {json.dumps(v)} is not {t if isinstance(t, str) else t[0]}")


def event(e, errs):
    check(e, ("struct", EVENT), "event", errs)
    if not isinstance(e, dict):
        return
    for k in REQUIRED:
        if k not in e:
            errs.append(f"event.{k}: required")
    if e.get("kind") != "Event" or e.get("apiVersion") != "audit.k8s.io/v1":
        errs.append("kind/apiVersion: not Event audit.k8s.io/v1")
    for k, values in ENUMS.items():
        if k in e and e[k] not in values:
            errs.append(f"event.{k}: {e[k]!r} not one of {sorted(values)}")
    for k in ("requestReceivedTimestamp", "stageTimestamp"):
        if isinstance(e.get(k), str) and not MICRO.match(e[k]):
            errs.append(f"event.{k}: {e[k]!r} is not RFC 3339 with microseconds")
    if isinstance(e.get("auditID"), str) and not UUID.match(e["auditID"]):
        errs.append(f"event.auditID: {e['auditID']!r} is not a UUID")
    rs = e.get("responseStatus")
    if isinstance(rs, dict):
        if "status" in rs and rs["status"] not in STATUS_VALUES:
            errs.append(f"responseStatus.status: {rs['status']!r}")
        if "code" not in rs:
            errs.append("responseStatus.code: missing")


def main():
    errs, n = [], 0
    for path in sys.argv[1:]:
        with open(path) as f:
            for i, line in enumerate(f, 1):
                n += 1
                mine = []
                try:
                    event(json.loads(line), mine)
                except ValueError as x:
                    mine.append(f"not JSON: {x}")
                errs += [f"{path}:{i}: {m}" for m in mine]
    for m in errs:
        print(m)
    print(f"{n} events, {len(errs)} violations")
    sys.exit(1 if errs or n == 0 else 0)


if __name__ == "__main__":
    main()
