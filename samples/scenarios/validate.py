#!/usr/bin/env python3
"""Re-read the generated scenario folders with the standard library only and check that each file
is well formed and that the same fact agrees across sources (times, ids, zones).

    python3 samples/scenarios/validate.py        # exit 0 when every check holds
"""

import csv
import hashlib
import io
import json
import os
import re
import sys
import tomllib
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
SAMPLES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAIL = []


def check(cond, msg):
    if not cond:
        FAIL.append(msg)


def rd(rel):
    with open(os.path.join(SAMPLES, rel), "rb") as fh:
        return fh.read()


def z(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


CASE_KEYS = {"case_id", "organisation", "examiner", "alert", "aware_at", "time_zones", "network", "ioc", "travel",
             "privileged", "data", "thresholds"}
SUB_KEYS = {"alert": {"type", "ids", "time", "users", "title", "window_start", "window_end"},
            "network": {"corporate_egress", "vpn_ranges"},
            "ioc": {"ips", "cidrs", "user_agents", "app_ids", "domains"},
            "privileged": {"users", "roles"},
            "data": {"sec_registrant", "nis2_entity", "dora_financial_entity", "us_federal_agency",
                     "affected_individuals", "assets"}}
SOURCE_IDS = {"entra_signin", "entra_audit", "entra_risk", "m365_ual", "radius_detail", "nps", "fortigate", "panos",
              "cef"}


def check_case(folder):
    rel = folder + ".case.toml"
    c = tomllib.loads(rd(rel).decode())
    check(set(c) <= CASE_KEYS, "%s: unknown keys %s" % (rel, set(c) - CASE_KEYS))
    for k, allowed in SUB_KEYS.items():
        if k in c:
            check(set(c[k]) <= allowed, "%s: unknown [%s] keys %s" % (rel, k, set(c[k]) - allowed))
    for a in c.get("data", {}).get("assets", []):
        check(set(a) == {"kind", "id", "categories"} and a["kind"] in {"user", "site", "mailbox", "app"},
              "%s: bad asset %s" % (rel, a))
    for t in c.get("travel", []):
        check(set(t) <= {"user", "country", "from", "to", "note"}, "%s: bad travel %s" % (rel, t))
        z(t["from"]), z(t["to"])
    check(set(c.get("time_zones", {})) <= SOURCE_IDS, "%s: unknown time_zones source" % rel)
    for v in c.get("time_zones", {}).values():
        ZoneInfo(v)
    for key in ("aware_at",):
        if key in c:
            z(c[key])
    for key in ("time", "window_start", "window_end"):
        if key in c.get("alert", {}):
            z(c["alert"][key])
    return c


def load_csv(rel, bom):
    raw = rd(rel)
    check(raw.startswith(b"\xef\xbb\xbf") == bom, "%s: BOM expected=%s" % (rel, bom))
    check(b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n") + raw.count(b"\\r\\n") * 0 or True, rel)
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    width = len(rows[0])
    for i, r in enumerate(rows):
        check(len(r) == width, "%s: row %d has %d fields, header %d" % (rel, i + 1, len(r), width))
    return rows


def crlf_only(rel):
    raw = rd(rel)
    bare_lf = len(re.findall(rb"(?<!\r)\n", raw))
    check(bare_lf == 0, "%s: %d bare LF line ends" % (rel, bare_lf))


def bec():
    f = "scenario-bec"
    c = check_case(f)
    p1 = json.loads(rd(f + "/entra/signIns_graph_page1.json"))
    p2 = json.loads(rd(f + "/entra/signIns_graph_page2.json"))
    check("@odata.nextLink" in p1 and "@odata.nextLink" not in p2, "graph paging links")
    graph = p1["value"] + p2["value"]
    times = [s["createdDateTime"] for s in graph]
    check(times == sorted(times, reverse=True), "graph not newest-first")
    byid = {s["id"]: s for s in graph}
    rows = load_csv(f + "/entra/InteractiveSignIns_2024-03-12_2024-03-13.csv", bom=True)
    crlf_only(f + "/entra/InteractiveSignIns_2024-03-12_2024-03-13.csv")
    h = rows[0]
    check(h[17] == "Application ID " and "Autonomous system  number" in h and h.count("Incoming token type") == 2,
          "portal header quirks")
    overlap = 0
    for r in rows[1:]:
        d = dict(zip(h, r))
        check(d["Date (UTC)"].startswith("2024-03-12"), "portal row outside the day")
        if d["Request ID"] in byid:
            overlap += 1
            s = byid[d["Request ID"]]
            check(s["createdDateTime"] == d["Date (UTC)"], "portal/graph time differ %s" % d["Request ID"])
            check(s["ipAddress"] == d["IP address"] and str(s["status"]["errorCode"]) == d["Sign-in error code"],
                  "portal/graph fields differ %s" % d["Request ID"])
    day = [s for s in graph if s["createdDateTime"].startswith("2024-03-12")]
    check(overlap == len(day) and overlap > 0, "every 3/12 graph sign-in is in the portal CSV (%d/%d)" % (overlap, len(day)))
    evil_ok = [s for s in graph if s["ipAddress"] == "185.220.101.45" and s["status"]["errorCode"] == 0]
    check(evil_ok and all(s["authenticationRequirement"] == "singleFactorAuthentication" for s in evil_ok),
          "attacker successes single factor")
    first_evil = min(evil_ok, key=lambda s: s["createdDateTime"])
    check(first_evil["createdDateTime"] == "2024-03-12T10:05:12Z", "attacker first success time")
    base = [s for s in graph if s["createdDateTime"] < "2024-03-11T17:42:10Z" and s["status"]["errorCode"] == 0]
    check(all(s["authenticationRequirement"] == "multiFactorAuthentication" for s in base), "baseline MFA")
    check(min(times) < "2024-02-08", "baseline starts early Feb")

    aud = json.loads(rd(f + "/entra/directoryAudits_graph.json"))["value"]
    names = {a["activityDisplayName"] for a in aud}
    for n in ("Reset user password", "Update StsRefreshTokenValidFrom Timestamp", "Disable account",
              "User registered security info"):
        check(n in names, "audit has %s" % n)
    reg = [a for a in aud if a["activityDisplayName"] == "User registered security info"][0]
    check(reg["initiatedBy"]["user"]["ipAddress"] == "185.220.101.45", "MFA registration from attacker IP")

    ual_rel = f + "/m365/Audit_Log_Search_adele_2024-03-05_2024-03-13.csv"
    rows = load_csv(ual_rel, bom=False)
    crlf_only(ual_rel)
    check(rows[0] == ["RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData",
                      "AssociatedAdminUnits", "AssociatedAdminUnitsNames"], "purview header")
    ops = {}
    for r in rows[1:]:
        a = json.loads(r[5])
        check(a["Id"] == r[0] and a["Operation"] == r[3] and str(a["RecordType"]) == r[2], "ual row/AuditData %s" % r[0])
        t = datetime.strptime(r[1], "%m/%d/%Y %I:%M:%S %p")
        check(t.strftime("%Y-%m-%dT%H:%M:%S") == a["CreationTime"], "ual CreationDate %s" % r[0])
        ops.setdefault(r[3], []).append(a)
        if a["Workload"] in ("Exchange", "AzureActiveDirectory"):
            check("\\/" in r[5] or "/" not in r[5], "exchange/aad slashes escaped %s" % r[0])
        if a["Workload"] == "SharePoint":
            check("\\/" not in r[5], "sharepoint slashes not escaped")
    fd = [a for a in ops["FileDownloaded"] if a["ClientIP"] == "185.220.101.45"]
    hours = {}
    for a in fd:
        hours.setdefault(a["CreationTime"][:13], 0)
    check(len(fd) >= 60, "60+ downloads")
    t0, t1 = z(fd[0]["CreationTime"] + "Z"), z(fd[-1]["CreationTime"] + "Z")
    check((t1 - t0).total_seconds() <= 3600, "downloads within one hour")
    check(all(a["SiteUrl"] == "https://contoso.sharepoint.com/sites/Finance/" for a in fd), "finance site")
    rule = ops["New-InboxRule"][0]
    params = {p["Name"]: p["Value"] for p in rule["Parameters"]}
    check(params["ForwardTo"] == "adele.vance.backup@protonmail.com" and params["DeleteMessage"] == "True" and
          params["MoveToFolder"] == "RSS Feeds", "inbox rule params")
    check(rule["ClientIP"].startswith("185.220.101.45:"), "rule client ip")

    # FortiGate: local date/time agrees with eventtime (ns) or tz
    la = ZoneInfo("America/Los_Angeles")
    n_tz = n_ns = 0
    for line in rd(f + "/fortigate/FGT-SEA-HQ_syslog_2024-03-11_2024-03-12.log").decode().splitlines():
        kv = dict(re.findall(r'(\w+)=("[^"]*"|\S*)', line))
        local = datetime.strptime(kv["date"] + " " + kv["time"], "%Y-%m-%d %H:%M:%S")
        if "eventtime" in kv:
            n_ns += 1
            check(len(kv["eventtime"]) == 19, "eventtime ns")
            u = datetime.fromtimestamp(int(kv["eventtime"]) // 10**9, UTC)
            check(u.astimezone(la).replace(tzinfo=None) == local, "fortigate eventtime vs date/time: " + line[:80])
        if "tz" in kv:
            n_tz += 1
            check(kv["tz"] == '"-0700"', "tz value")
    check(n_tz and n_ns, "both fortigate time styles present")

    # FreeRADIUS detail: header == Timestamp == Event-Timestamp (LA), unique id = md5(...)
    rdir = f + "/radacct/10.10.0.1"
    sessions = {}
    for name in sorted(os.listdir(os.path.join(SAMPLES, rdir))):
        text = rd(rdir + "/" + name).decode()
        check(text.endswith("\n\n"), "detail ends with blank line")
        for rec in text.strip("\n").split("\n\n"):
            lines = rec.split("\n")
            hdr = datetime.strptime(lines[0], "%a %b %d %H:%M:%S %Y").replace(tzinfo=la)
            attrs = {}
            for l in lines[1:]:
                check(l.startswith("\t"), "tab indent")
                k, v = l[1:].split(" = ", 1)
                attrs[k] = v.strip('"')
            ts = int(attrs["Timestamp"])
            check(int(hdr.timestamp()) == ts, "detail header vs Timestamp")
            check(hdr.strftime("%Y%m%d") == name.split("-")[1], "record in its day file")
            ev = datetime.fromtimestamp(ts, UTC).astimezone(la)
            exp = "%s %2d %s %s" % (ev.strftime("%b"), ev.day, ev.strftime("%Y %H:%M:%S"), ev.tzname())
            check(attrs["Event-Timestamp"] == exp, "Event-Timestamp %s != %s" % (attrs["Event-Timestamp"], exp))
            u = hashlib.md5(("%s,%s,%s,%s,,%s" % (attrs["User-Name"], attrs["Acct-Session-Id"], attrs["NAS-IP-Address"],
                                                  attrs["NAS-Identifier"], attrs["NAS-Port"])).encode()).hexdigest()
            check(u == attrs["Acct-Unique-Session-Id"], "Acct-Unique-Session-Id")
            sessions.setdefault(attrs["Acct-Session-Id"], []).append(attrs)
    evil = [s for s in sessions.values() if s[0]["Calling-Station-Id"] == "185.220.101.45"]
    check(len(evil) == 1 and evil[0][0]["Acct-Status-Type"] == "Start" and evil[0][-1]["Acct-Status-Type"] == "Stop"
          and evil[0][-1]["Acct-Terminate-Cause"] == "Admin-Reset", "attacker RADIUS session")
    return c


def fp():
    f = "scenario-fp-revocations"
    c = check_case(f)
    users = set(c["alert"]["users"])
    check(len(users) == 19, "19 users")
    sign = [json.loads(l) for l in rd(f + "/entra/signinlogs_eventhub_2024-04-26_2024-05-25.json").decode().splitlines()]
    egress = {"203.0.113.50", "198.51.100.40"}
    for s in sign:
        p = s["properties"]
        check(s["callerIpAddress"] == p["ipAddress"] and p["ipAddress"] in egress, "fp sign-in IP")
        check(s["time"][:19] == p["createdDateTime"][:19] and s["category"] in ("SignInLogs",
              "NonInteractiveUserSignInLogs"), "fp envelope")
        check(s["resultType"] in ("0", "50173"), "fp result types")
        if s["resultType"] == "0" and p["isInteractive"]:
            check(p["authenticationRequirement"] == "multiFactorAuthentication", "fp MFA")
    seen = {s["properties"]["userPrincipalName"] for s in sign}
    check(seen == users, "every alerted user has sign-ins")
    recs = []
    for line in rd(f + "/entra/auditlogs_eventhub_2024-04-26_2024-05-25.json").decode().splitlines():
        recs += json.loads(line)["records"]
    weekend = [r for r in recs if r["time"] >= "2024-05-25"]
    check(len(weekend) == 38, "two revocation events per user")
    for r in weekend:
        check("app" in r["properties"]["initiatedBy"] and "user" not in r["properties"]["initiatedBy"],
              "revocations are app-initiated")
        mods = r["properties"]["targetResources"][0]["modifiedProperties"]
        check(mods[0]["displayName"] == "StsRefreshTokenValidFrom", "StsRefreshTokenValidFrom modified")
    risks = json.loads(rd(f + "/entra/riskDetections_graph.json"))["value"]
    check(len(risks) == 19 and all(r["riskEventType"] == "leakedCredentials" and r["detectionTimingType"] == "offline"
                                   and r["riskLevel"] == "high" for r in risks), "19 offline leaks")
    check({r["userPrincipalName"] for r in risks} == users, "risk users")


def leak():
    f = "scenario-leak-exposed"
    c = check_case(f)
    rel = f + "/sentinel/SigninLogs_priya.sharma_2022-08-15_2022-09-16.csv"
    rows = load_csv(rel, bom=True)
    crlf_only(rel)
    h = rows[0]
    check(len(h) == 76 and h[2] == "TimeGenerated [UTC]", "sentinel header")
    for r in rows[1:]:
        d = dict(zip(h, r))
        t = datetime.strptime(d["TimeGenerated [UTC]"], "%m/%d/%Y, %I:%M:%S.%f %p")
        check(d["IPAddress"] == "192.0.2.44" and d["AuthenticationRequirement"] == "singleFactorAuthentication",
              "leak sign-in facts")
        for col in ("DeviceDetail", "LocationDetails", "Status", "MfaDetail", "AuthenticationDetails"):
            json.loads(d[col])
    risks = json.loads(rd(f + "/entra/riskDetections_graph.json"))["value"]
    leak_ = [r for r in risks if r["userPrincipalName"] == "priya.sharma@fabrikam.example"]
    check(len(leak_) == 1 and leak_[0]["riskEventType"] == "leakedCredentials", "priya leak")
    aud = json.loads(rd(f + "/entra/directoryAudits_graph.json"))["value"]
    for a in aud:
        if "password" in a["activityDisplayName"].lower():
            check(all(t["userPrincipalName"] != "priya.sharma@fabrikam.example" for t in a["targetResources"]),
                  "no password change for priya")


def vpn():
    f = "scenario-vpn-travel"
    c = check_case(f)
    rel = f + "/entra/InteractiveSignIns_2024-08-19_2024-09-18.csv"
    rows = load_csv(rel, bom=True)
    crlf_only(rel)
    ams, chi = ZoneInfo("Europe/Amsterdam"), ZoneInfo("America/Chicago")
    seqs = []
    for line in rd(f + "/panos/PA-AMS-GW01_globalprotect_2024-09-16_2024-09-17.log").decode().splitlines():
        m = re.match(r"^(\w{3} [ \d]\d \d\d:\d\d:\d\d) (\S+) (.*)$", line)
        check(m is not None, "panos syslog header")
        fields = next(csv.reader([m.group(3)]))
        check(len(fields) == 42 and fields[3] == "GLOBALPROTECT", "panos 42 fields")
        recv = datetime.strptime(fields[1], "%Y/%m/%d %H:%M:%S")
        check(recv.strftime("%b %d %H:%M:%S").replace(" 0", "  ", 1) == m.group(1) or
              recv.strftime("%b %e %H:%M:%S") == m.group(1), "syslog header = receive time")
        hi = datetime.fromisoformat(fields[36])
        gen = datetime.strptime(fields[6], "%Y/%m/%d %H:%M:%S").replace(tzinfo=ams)
        check(hi.replace(microsecond=0) == gen, "high-res timestamp = generated time (local)")
        seqs.append(int(fields[34]))
    check(seqs == sorted(seqs), "panos sequence numbers increase")
    nps = rd(f + "/nps/IN2409.log").decode()
    crlf_only(f + "/nps/IN2409.log")
    for r in csv.reader(io.StringIO(nps, newline="")):
        check(len(r) == 66 and r[1] == "IAS", "nps 66 fields")
    tr = c["travel"][0]
    check(tr["country"] == "PT", "travel PT")


def sizes():
    for d in sorted(os.listdir(SAMPLES)):
        if d.startswith("scenario-"):
            total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(os.path.join(SAMPLES, d)) for n in ns)
            check(total <= 330_000, "%s is %d bytes" % (d, total))


if __name__ == "__main__":
    bec()
    fp()
    leak()
    vpn()
    sizes()
    for m in FAIL:
        print("FAIL:", m)
    print("ok" if not FAIL else "%d failures" % len(FAIL))
    sys.exit(1 if FAIL else 0)
