#!/usr/bin/env python3
"""Generate the irpack incident scenario folders (samples/scenario-*/) deterministically.

    python3 samples/scenarios/generate.py            # rewrites the four scenario folders
    python3 samples/scenarios/generate.py --check    # regenerates in memory, fails if any file differs

Every scenario uses its own fixed-seed random.Random, so the output is byte-identical on every run
(Python 3.9+, zoneinfo with the system tz database). The files imitate, field for field, what the
real products export (see ../../shared/FORMATS.md and the corpus there); the content is invented:
names come from Microsoft's fictitious companies, IPs from the documentation ranges
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) except the attacker IP the BEC brief fixes.
"""

import csv
import hashlib
import io
import json
import os
import random
import struct
import sys
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.dirname(HERE)

# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


class Gen:
    """Deterministic id factory for one scenario."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def guid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def request_id(self):
        """ESTS request ids (sign-in ids) end in ..xx00 (e.g. 66ea54eb-...-ff5a759b0100)."""
        g = self.guid()
        return g[:-4] + self.r.choice(["01", "02", "03", "05", "0a", "2f", "47", "6c"]) + "00"

    def ual_id(self):
        """Exchange/SharePoint UAL ids often carry 08dc.... in the 4th group (2024 timestamps)."""
        g = self.guid()
        return g[:24] + "08dc" + g[28:]

    def b64url(self, n=22):
        a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return "".join(self.r.choice(a) for _ in range(n))

    def hexs(self, n):
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def digits(self, n):
        return "".join(self.r.choice("0123456789") for _ in range(n))

    def alnum_upper(self, n):
        return "".join(self.r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(n))

    def frac7(self):
        return self.r.randrange(0, 10_000_000)


def f32(x):
    """Entra stores coordinates as float32; the JSON shows the widened double."""
    return struct.unpack("f", struct.pack("f", x))[0]


def jdump(o):
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False)


def jdump_ms(o):
    """Microsoft DataContractJsonSerializer style used by Exchange / Azure AD UAL records:
    compact, '/' escaped as '\\/'."""
    return jdump(o).replace("/", "\\/")


def t_graph(t):  # 2024-03-12T10:05:12Z
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def t_7(t, frac):  # 2024-03-12T10:05:12.1234567Z
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%07d" % frac + "Z"


def t_7off(t, frac):  # 2024-03-12T10:05:12.1234567+00:00
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%07d" % frac + "+00:00"


def t_ual(t):  # 2024-03-12T10:05:12
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def t_purview(t):  # 3/12/2024 10:05:12 AM
    h = t.hour % 12 or 12
    return "%d/%d/%d %d:%02d:%02d %s" % (t.month, t.day, t.year, h, t.minute, t.second, "AM" if t.hour < 12 else "PM")


def t_sentinel(t):  # 9/19/2023, 1:45:17.287 PM
    h = t.hour % 12 or 12
    return "%d/%d/%d, %d:%02d:%02d.%03d %s" % (
        t.month, t.day, t.year, h, t.minute, t.second, t.microsecond // 1000, "AM" if t.hour < 12 else "PM")


def dt(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


def write(path, data, written):
    """Collect output; bytes are written by main() (or compared in --check)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    written[path] = data


def csv_text(rows, quote_all=False, lineterminator="\r\n"):
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, lineterminator=lineterminator)
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Entra ID vocabulary shared by the scenarios
# --------------------------------------------------------------------------------------------

APPS = {
    "OfficeHome": ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
    "OWA": ("9199bf20-a13f-4107-85dc-02114787ef48", "One Outlook Web"),
    "Office": ("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
    "Teams": ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    "AzurePortal": ("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal"),
    "MySignins": ("19db86c3-b2b9-44cc-b339-36da233a3be2", "My Signins"),
    "SPO": ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    "EXO": ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
    "Sentinel": ("80ccca67-54bd-44ab-8625-4b79c4dc7775", "Microsoft 365 Security and Compliance Center"),
    "GP": ("0f4d3a5e-5b0c-4a53-9d6e-3c8a2f1b7e61", "Palo Alto Networks - GlobalProtect"),
}
RESOURCES = {
    "EXO": ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
    "SPO": ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    "Graph": ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
    "AAD": ("00000002-0000-0000-c000-000000000000", "Windows Azure Active Directory"),
    "ARM": ("797f4846-ba00-4fd7-ba43-dac1f8f63013", "Windows Azure Service Management API"),
    "Teams": ("cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", "Microsoft Teams Services"),
    "OfficeHome": ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
    "GP": ("0f4d3a5e-5b0c-4a53-9d6e-3c8a2f1b7e61", "Palo Alto Networks - GlobalProtect"),
}

ERRORS = {
    0: (None, None),
    50126: ("Error validating credentials due to invalid username or password.",
            "The user didn't enter the right credentials.  It's expected to see some number of these errors in "
            "your logs due to users making mistakes."),
    50074: ("Strong Authentication is required.", "MFA required in Azure AD"),
    500121: ("Authentication failed during strong authentication request.",
             "The user didn't complete the MFA prompt. They may have decided not to authenticate, timed out while "
             "doing other work, or has an issue with their authentication setup."),
    50140: ("This error occurred due to 'Keep me signed in' interrupt when the user was signing-in.", None),
    50057: ("User account is disabled. The account has been disabled by an administrator.", None),
    50173: ("The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might "
            "have changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date "
            "(before which tokens are not valid) for this user is '{valid_from}'.", None),
}
INTERRUPTS = {50074, 50140}

UA_EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0")
UA_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/{v}.0.0.0 Safari/537.36")
UA_OFFICE = "Mozilla/4.0 (compatible; ms-office; MSOffice 16)"


def loc(city, state, cc, lat, lon):
    return {"city": city, "state": state, "countryOrRegion": cc, "lat": lat, "lon": lon}


def step(method, ok, detail, req, t=None, method_detail=None):
    return {"authenticationStepDateTime": t, "authenticationMethod": method, "authenticationMethodDetail": method_detail,
            "succeeded": ok, "authenticationStepResultDetail": detail, "authenticationStepRequirement": req}


def auth_steps(kind, t, err=0):
    """authenticationDetails for the common shapes."""
    ts = t_graph(t)
    if kind == "prt_mfa":  # PRT carrying an MFA claim (Windows Hello for Business on a joined device)
        return [step("Previously satisfied", True, "First factor requirement satisfied by claim in the token",
                     "Primary authentication", ts),
                step("Previously satisfied", True, "MFA requirement satisfied by claim in the token",
                     "Multifactor authentication", ts)]
    if kind == "prt":  # PRT, no MFA requested by policy
        return [step("Previously satisfied", True, "First factor requirement satisfied by claim in the token",
                     "Primary authentication", ts)]
    if kind == "pwd_push":
        if err == 500121:
            return [step("Password", True, "Correct password", "Primary authentication", ts, "Password in the cloud"),
                    step("Mobile app notification", False, "MFA denied; user declined the authentication",
                         "Multifactor authentication", ts)]
        if err == 50074:
            return [step("Password", True, "Correct password", "Primary authentication", ts, "Password in the cloud")]
        return [step("Password", True, "Correct password", "Primary authentication", ts, "Password in the cloud"),
                step("Mobile app notification", True, "MFA successfully completed", "Multifactor authentication", ts)]
    if kind == "pwd":  # single factor
        if err in (50126,):
            return [step("Password", False, "Invalid username or password or Invalid on-premise username or password.",
                         "Primary authentication", ts, "Password in the cloud")]
        if err == 50057:
            return [step("Password", False, "User account is disabled.", "Primary authentication", ts,
                         "Password in the cloud")]
        return [step("Password", True, "Correct password", "Primary authentication", ts, "Password in the cloud")]
    if kind == "refresh":
        ok = err == 0
        return [step("Previously satisfied", ok, "First factor requirement satisfied by claim in the token" if ok
                     else "Token has been revoked", "Primary authentication", ts)]
    raise ValueError(kind)


def ca_entry(pol, result):
    return {"id": pol["id"], "displayName": pol["name"], "enforcedGrantControls": pol["grant"],
            "enforcedSessionControls": [], "result": result}


def signin(g, *, t, user, app, res, ip, where, asn, client, ua, device, err=0, auth="prt_mfa",
           requirement="multiFactorAuthentication", ca_status="success", ca=(), interactive=True,
           token_in="primaryRefreshToken", proto="none", risk=None, session=None, mfa=None, net=None,
           tenant=None, corr=None, frac=None, failure_vars=None):
    """A sign-in as one canonical dict; the renderers below turn it into each export format."""
    reason, details = ERRORS[err]
    if failure_vars:
        reason = reason.format(**failure_vars)
    return {
        "t": t, "frac": g.frac7() if frac is None else frac, "id": g.request_id(), "corr": corr or g.guid(),
        "user": user, "app": APPS[app], "res": RESOURCES[res], "ip": ip, "loc": where, "asn": asn,
        "client": client, "ua": ua, "device": device, "err": err, "reason": reason, "details": details,
        "auth": auth_steps(auth, t, err), "requirement": requirement, "ca_status": ca_status, "ca": list(ca),
        "interactive": interactive, "token_in": token_in, "proto": proto,
        "risk": risk or {"detail": "none", "agg": "none", "during": "none", "state": "none", "types": []},
        "session": session or g.guid(), "uti": g.b64url(22), "proc_ms": g.r.randrange(38, 420),
        "mfa": mfa, "net": net or [], "tenant": tenant,
    }


def graph_signin(s):
    """Graph beta signIn object (GET /beta/auditLogs/signIns), property order as the service returns it."""
    u, (app_id, app_name), (res_id, res_name) = s["user"], s["app"], s["res"]
    d, L = s["device"], s["loc"]
    return {
        "id": s["id"],
        "createdDateTime": t_graph(s["t"]),
        "userDisplayName": u["name"],
        "userPrincipalName": u["upn"],
        "userId": u["id"],
        "appId": app_id,
        "appDisplayName": app_name,
        "ipAddress": s["ip"],
        "ipAddressFromResourceProvider": None,
        "clientAppUsed": s["client"],
        "userAgent": s["ua"],
        "correlationId": s["corr"],
        "conditionalAccessStatus": s["ca_status"],
        "originalRequestId": s["id"],
        "isInteractive": s["interactive"],
        "tokenIssuerName": "",
        "tokenIssuerType": "AzureAD",
        "clientCredentialType": "none",
        "processingTimeInMilliseconds": s["proc_ms"],
        "riskDetail": s["risk"]["detail"],
        "riskLevelAggregated": s["risk"]["agg"],
        "riskLevelDuringSignIn": s["risk"]["during"],
        "riskState": s["risk"]["state"],
        "riskEventTypes": s["risk"]["types"],
        "riskEventTypes_v2": s["risk"]["types"],
        "resourceDisplayName": res_name,
        "resourceId": res_id,
        "resourceTenantId": s["tenant"],
        "homeTenantId": s["tenant"],
        "homeTenantName": "",
        "authenticationMethodsUsed": [],
        "authenticationRequirement": s["requirement"],
        "signInIdentifier": u["upn"],
        "signInIdentifierType": None,
        "servicePrincipalName": None,
        "signInEventTypes": ["interactiveUser"] if s["interactive"] else ["nonInteractiveUser"],
        "servicePrincipalId": "",
        "userType": "member",
        "flaggedForReview": False,
        "isTenantRestricted": False,
        "autonomousSystemNumber": s["asn"],
        "crossTenantAccessType": "none",
        "uniqueTokenIdentifier": s["uti"],
        "incomingTokenType": s["token_in"],
        "authenticationProtocol": s["proto"],
        "resourceServicePrincipalId": u.get("sp", {}).get(res_id, ""),
        "signInTokenProtectionStatus": "none",
        "originalTransferMethod": "none",
        "isThroughGlobalSecureAccess": False,
        "globalSecureAccessIpAddress": None,
        "sessionId": s["session"],
        "appOwnerTenantId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        "resourceOwnerTenantId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        "mfaDetail": s["mfa"],
        "status": {"errorCode": s["err"], "failureReason": s["reason"] or "Other.", "additionalDetails": s["details"]},
        "deviceDetail": {"deviceId": d.get("id", ""), "displayName": d.get("name"), "operatingSystem": d["os"],
                         "browser": d["browser"], "isCompliant": d.get("compliant", False),
                         "isManaged": d.get("managed", False), "trustType": d.get("trust")},
        "location": {"city": L["city"], "state": L["state"], "countryOrRegion": L["countryOrRegion"],
                     "geoCoordinates": {"altitude": None, "latitude": f32(L["lat"]), "longitude": f32(L["lon"])}},
        "appliedConditionalAccessPolicies": s["ca"],
        "authenticationContextClassReferences": [],
        "authenticationProcessingDetails": [{"key": "Legacy TLS (TLS 1.0, 1.1, 3DES)", "value": "False"}],
        "networkLocationDetails": s["net"],
        "authenticationDetails": s["auth"],
        "authenticationRequirementPolicies": [],
        "sessionLifetimePolicies": [],
    }


GRAPH_SELECT = [
    "id", "createdDateTime", "userDisplayName", "userPrincipalName", "userId", "appId", "appDisplayName", "ipAddress",
    "clientAppUsed", "userAgent", "correlationId", "conditionalAccessStatus", "isInteractive", "riskDetail",
    "riskLevelAggregated", "riskLevelDuringSignIn", "riskState", "riskEventTypes_v2", "resourceDisplayName",
    "resourceId", "authenticationRequirement", "autonomousSystemNumber", "incomingTokenType", "sessionId",
    "mfaDetail", "status", "deviceDetail", "location", "appliedConditionalAccessPolicies", "networkLocationDetails"]


def graph_select(o):
    """What Graph returns for ?$select=...: only those properties, in the entity's own order."""
    return {k: v for k, v in o.items() if k in GRAPH_SELECT}


def diag_signin(s):
    """Azure Monitor diagnostic-settings record (Event Hub / storage) for SignInLogs or NonInteractiveUserSignInLogs."""
    u, (app_id, app_name), (res_id, res_name) = s["user"], s["app"], s["res"]
    d, L = s["device"], s["loc"]
    status = {"errorCode": s["err"]}
    if s["details"]:
        status["additionalDetails"] = s["details"]
    props = {
        "id": s["id"],
        "createdDateTime": t_7off(s["t"], s["frac"]),
        "userDisplayName": u["name"],
        "userPrincipalName": u["upn"],
        "userId": u["id"],
        "appId": app_id,
        "appDisplayName": app_name,
        "ipAddress": s["ip"],
        "status": status,
        "clientAppUsed": s["client"],
        "userAgent": s["ua"],
        "deviceDetail": {"deviceId": d.get("id", ""), "displayName": d.get("name", ""), "operatingSystem": d["os"],
                         "browser": d["browser"], "isCompliant": d.get("compliant", False),
                         "isManaged": d.get("managed", False), "trustType": d.get("trust", "")},
        "location": {"city": L["city"], "state": L["state"], "countryOrRegion": L["countryOrRegion"],
                     "geoCoordinates": {"latitude": f32(L["lat"]), "longitude": f32(L["lon"])}},
        "mfaDetail": s["mfa"] or {},
        "correlationId": s["corr"],
        "conditionalAccessStatus": s["ca_status"],
        "appliedConditionalAccessPolicies": s["ca"],
        "authenticationContextClassReferences": [],
        "originalRequestId": s["id"],
        "isInteractive": s["interactive"],
        "tokenIssuerName": "",
        "tokenIssuerType": "AzureAD",
        "authenticationProcessingDetails": [{"key": "Legacy TLS (TLS 1.0, 1.1, 3DES)", "value": "False"},
                                            {"key": "Is CAE Token", "value": "False"}],
        "networkLocationDetails": s["net"],
        "clientCredentialType": "none",
        "processingTimeInMilliseconds": s["proc_ms"],
        "riskDetail": s["risk"]["detail"],
        "riskLevelAggregated": s["risk"]["agg"],
        "riskLevelDuringSignIn": s["risk"]["during"],
        "riskState": s["risk"]["state"],
        "riskEventTypes": s["risk"]["types"],
        "riskEventTypes_v2": s["risk"]["types"],
        "resourceDisplayName": res_name,
        "resourceId": res_id,
        "resourceTenantId": s["tenant"],
        "homeTenantId": s["tenant"],
        "authenticationDetails": s["auth"],
        "authenticationRequirementPolicies": [],
        "sessionLifetimePolicies": [],
        "authenticationRequirement": s["requirement"],
        "servicePrincipalId": "",
        "userType": "Member",
        "flaggedForReview": False,
        "isTenantRestricted": False,
        "autonomousSystemNumber": s["asn"],
        "crossTenantAccessType": "none",
        "uniqueTokenIdentifier": s["uti"],
        "incomingTokenType": s["token_in"],
        "authenticationProtocol": s["proto"],
        "resourceServicePrincipalId": "",
        "originalTransferMethod": "none",
        "isThroughGlobalSecureAccess": False,
        "sessionId": s["session"],
    }
    env = {
        "time": t_7(s["t"], s["frac"]),
        "resourceId": "/tenants/%s/providers/Microsoft.aadiam" % s["tenant"],
        "operationName": "Sign-in activity",
        "operationVersion": "1.0",
        "category": "SignInLogs" if s["interactive"] else "NonInteractiveUserSignInLogs",
        "tenantId": s["tenant"],
        "resultType": str(s["err"]),
        "resultSignature": "None",
    }
    if s["reason"]:
        env["resultDescription"] = s["reason"]
    env.update({
        "durationMs": 0,
        "callerIpAddress": s["ip"],
        "correlationId": s["corr"],
        "identity": u["name"],
        "Level": 4,
        "location": L["countryOrRegion"],
        "properties": props,
    })
    return env


PORTAL_HEADER = [
    "Date (UTC)", "Request ID", "User agent", "Correlation ID", "User ID", "User", "Username", "User type",
    "Cross tenant access type", "Incoming token type", "Authentication Protocol", "Unique token identifier",
    "Original transfer method", "Client credential type", "Token Protection - Sign In Session",
    "Token Protection - Sign In Session StatusCode", "Application", "Application ID ", "App owner tenant ID",
    "Resource", "Resource ID ", "Resource tenant ID", "Resource owner tenant ID", "Home tenant ID",
    "Home tenant name", "IP address", "Location", "Status", "Sign-in error code", "Failure reason", "Client app",
    "Device ID", "Browser", "Operating System", "Compliant", "Managed", "Join Type",
    "Multifactor authentication result", "Multifactor authentication auth method",
    "Multifactor authentication auth detail", "Authentication requirement", "Sign-in identifier", "Session ID",
    "IP address (seen by resource)", "Through Global Secure Access", "Global Secure Access IP address",
    "Autonomous system  number", "Flagged for review", "Token issuer type", "Incoming token type",
    "Token issuer name", "Latency", "Conditional Access", "Managed Identity type", "Associated Resource Id",
    "Federated Token Id", "Federated Token Issuer"]

TOKEN_TYPE_WORDS = {"primaryRefreshToken": "Primary Refresh Token", "none": "None", "refreshToken": "Refresh token"}
CA_WORDS = {"success": "Success", "failure": "Failure", "notApplied": "Not Applied"}


def portal_row(s):
    """Entra portal "Download CSV" row (InteractiveSignIns_*.csv)."""
    u, (app_id, app_name), (res_id, res_name) = s["user"], s["app"], s["res"]
    d, L = s["device"], s["loc"]
    status = "Success" if s["err"] == 0 else ("Interrupted" if s["err"] in INTERRUPTS else "Failure")
    mfa_res, mfa_method, mfa_detail = "", "", ""
    for st in s["auth"]:
        if "MFA" in (st["authenticationStepResultDetail"] or "") or st["authenticationStepRequirement"] == "Multifactor authentication":
            mfa_res = st["authenticationStepResultDetail"]
            mfa_method = st["authenticationMethod"] if st["authenticationMethod"] != "Previously satisfied" else ""
    if s["err"] == 50074:
        mfa_res = "MFA required in Azure AD"
    token = TOKEN_TYPE_WORDS[s["token_in"]]
    return [
        t_graph(s["t"]), s["id"], s["ua"], s["corr"], u["id"], u["name"], u["upn"], "Member",
        "None", token, "None" if s["proto"] == "none" else s["proto"].upper(), s["uti"],
        "None", "None", "None", "",
        app_name, app_id, "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        res_name, res_id, s["tenant"], "f8cdef31-a31e-4b4a-93e4-5f571e91255a", s["tenant"],
        "", s["ip"], "%s, %s, %s" % (L["city"], L["state"], L["countryOrRegion"]), status,
        str(s["err"]), s["reason"] or "", s["client"],
        d.get("id", ""), d["browser"], d["os"], "True" if d.get("compliant") else "False",
        "True" if d.get("managed") else "False", d.get("trust") or "",
        mfa_res, mfa_method, mfa_detail,
        "Multifactor authentication" if s["requirement"] == "multiFactorAuthentication" else "Single-factor authentication",
        u["upn"], s["session"], "", "False", "", str(s["asn"]), "False", "AzureAD", token, "",
        str(s["proc_ms"]), CA_WORDS[s["ca_status"]], "", "", "", ""]


SENTINEL_HEADER = [
    "TenantId", "SourceSystem", "TimeGenerated [UTC]", "ResourceId", "OperationName", "OperationVersion", "Category",
    "ResultType", "ResultSignature", "ResultDescription", "DurationMs", "CorrelationId", "Resource", "ResourceGroup",
    "ResourceProvider", "Identity", "Level", "Location", "AlternateSignInName", "AppDisplayName", "AppId",
    "AuthenticationContextClassReferences", "AuthenticationDetails", "AppliedEventListeners",
    "AuthenticationMethodsUsed", "AuthenticationProcessingDetails", "AuthenticationRequirement",
    "AuthenticationRequirementPolicies", "ClientAppUsed", "ConditionalAccessPolicies", "ConditionalAccessStatus",
    "CreatedDateTime [UTC]", "DeviceDetail", "IsInteractive", "Id", "IPAddress", "IsRisky", "LocationDetails",
    "MfaDetail", "NetworkLocationDetails", "OriginalRequestId", "ProcessingTimeInMilliseconds", "RiskDetail",
    "RiskEventTypes", "RiskEventTypes_V2", "RiskLevelAggregated", "RiskLevelDuringSignIn", "RiskState",
    "ResourceDisplayName", "ResourceIdentity", "ResourceServicePrincipalId", "ServicePrincipalId",
    "ServicePrincipalName", "Status", "TokenIssuerName", "TokenIssuerType", "UserAgent", "UserDisplayName", "UserId",
    "UserPrincipalName", "AADTenantId", "UserType", "FlaggedForReview", "IPAddressFromResourceProvider",
    "SignInIdentifier", "SignInIdentifierType", "ResourceTenantId", "HomeTenantId", "UniqueTokenIdentifier",
    "SessionLifetimePolicies", "AutonomousSystemNumber", "AuthenticationProtocol", "CrossTenantAccessType",
    "AppliedConditionalAccessPolicies", "RiskLevel", "Type"]


def sentinel_row(s):
    """Log Analytics 'Export to CSV - all columns' row of the SigninLogs table."""
    u, (app_id, app_name), (res_id, res_name) = s["user"], s["app"], s["res"]
    d, L = s["device"], s["loc"]
    t = s["t"]
    status = {"errorCode": s["err"]}
    if s["reason"]:
        status["failureReason"] = s["reason"]
    if s["details"]:
        status["additionalDetails"] = s["details"]
    device = {"deviceId": d.get("id", ""), "operatingSystem": d["os"], "browser": d["browser"]}
    if d.get("name"):
        device["displayName"] = d["name"]
    locd = {"city": L["city"], "state": L["state"], "countryOrRegion": L["countryOrRegion"],
            "geoCoordinates": {"latitude": f32(L["lat"]), "longitude": f32(L["lon"])}}
    ca = jdump(s["ca"])
    return [
        s["tenant"], "Azure AD", t_sentinel(t),
        "/tenants/%s/providers/Microsoft.aadiam" % s["tenant"], "Sign-in activity", "1.0", "SignInLogs",
        str(s["err"]), "None", s["reason"] or "", "0", s["corr"], "Microsoft.aadiam", "Microsoft.aadiam",
        "Microsoft.aadiam", u["name"], "4", L["countryOrRegion"], "", app_name, app_id, "[]",
        jdump(s["auth"]), "[]", "", jdump([{"key": "Legacy TLS (TLS 1.0, 1.1, 3DES)", "value": "False"}]),
        s["requirement"], "[]", s["client"], ca, s["ca_status"], t_sentinel(t), jdump(device),
        "true" if s["interactive"] else "false", s["id"], s["ip"], "", jdump(locd), jdump(s["mfa"] or {}),
        jdump(s["net"]), s["id"], str(s["proc_ms"]), s["risk"]["detail"], jdump(s["risk"]["types"]),
        jdump(s["risk"]["types"]), s["risk"]["agg"], s["risk"]["during"], s["risk"]["state"], res_name, res_id, "",
        "", "", jdump(status), "", "AzureAD", s["ua"], u["name"], u["id"], u["upn"], s["tenant"], "Member", "",
        "", u["upn"], "", s["tenant"], s["tenant"], s["uti"], "[]", str(s["asn"]), s["proto"], "none", ca, "",
        "SigninLogs"]


def dir_audit_id(g, corr):
    return "Directory_%s_%s_%s" % (corr, g.alnum_upper(5), g.digits(9))


def audit(g, *, t, activity, category, op_type, by_user=None, by_app=None, targets=(), result="success",
          reason="", service="Core Directory", details=(), corr=None, frac=None, aid=None):
    corr = corr or g.guid()
    initiated = {"app": None, "user": None}
    if by_user:
        initiated["user"] = {"id": by_user["id"], "displayName": None, "userPrincipalName": by_user["upn"],
                             "ipAddress": by_user.get("ip", ""), "userType": None, "homeTenantId": None,
                             "homeTenantName": None}
    if by_app:
        initiated["app"] = {"appId": by_app.get("appId"), "displayName": by_app["name"],
                            "servicePrincipalId": by_app["spid"], "servicePrincipalName": by_app.get("spn")}
    return {
        "id": aid or dir_audit_id(g, corr),
        "category": category,
        "correlationId": corr,
        "result": result,
        "resultReason": reason,
        "activityDisplayName": activity,
        "activityDateTime": t_7(t, g.frac7() if frac is None else frac),
        "loggedByService": service,
        "operationType": op_type,
        "initiatedBy": initiated,
        "targetResources": list(targets),
        "additionalDetails": list(details),
    }


def tgt_user(u, mods=()):
    return {"id": u["id"], "displayName": None, "type": "User", "userPrincipalName": u["upn"], "groupType": None,
            "modifiedProperties": list(mods)}


def tgt_group(gid, name, mods=()):
    return {"id": gid, "displayName": name, "type": "Group", "userPrincipalName": None, "groupType": None,
            "modifiedProperties": list(mods)}


def mod(name, old, new):
    return {"displayName": name, "oldValue": old, "newValue": new}


def diag_audit(a, tenant, caller_ip):
    """Wrap a directoryAudit in the diagnostic-settings envelope (category AuditLogs)."""
    p = dict(a)
    p["activityDateTime"] = p["activityDateTime"].replace("Z", "+00:00")
    init = p["initiatedBy"]
    p["initiatedBy"] = {k: v for k, v in init.items() if v is not None}
    ident = (init.get("app") or {}).get("displayName") or (init.get("user") or {}).get("userPrincipalName")
    return {
        "time": a["activityDateTime"],
        "resourceId": "/tenants/%s/providers/Microsoft.aadiam" % tenant,
        "operationName": a["activityDisplayName"],
        "operationVersion": "1.0",
        "category": "AuditLogs",
        "tenantId": tenant,
        "resultSignature": "None",
        "durationMs": 0,
        "callerIpAddress": caller_ip,
        "correlationId": a["correlationId"],
        "identity": ident,
        "Level": 4,
        "properties": p,
    }


def risk_detection(g, *, user, event, level, timing, activity, detected, act_time=None, state="atRisk",
                   detail="none", source="IdentityProtection", ip=None, where=None, request_id=None, corr=None,
                   info="[]", last=None):
    return {
        "id": g.hexs(64),
        "requestId": request_id,
        "correlationId": corr,
        "riskEventType": event,
        "riskState": state,
        "riskLevel": level,
        "riskDetail": detail,
        "source": source,
        "detectionTimingType": timing,
        "activity": activity,
        "tokenIssuerType": "AzureAD",
        "ipAddress": ip,
        "location": None if where is None else {"city": where["city"], "state": where["state"],
                                                  "countryOrRegion": where["countryOrRegion"],
                                                  "geoCoordinates": {"latitude": f32(where["lat"]),
                                                                     "longitude": f32(where["lon"])}},
        "activityDateTime": t_7(act_time or detected, g.frac7()),
        "detectedDateTime": t_7(detected, g.frac7()),
        "lastUpdatedDateTime": t_7(last or detected, g.frac7()),
        "userId": user["id"],
        "userDisplayName": user["name"],
        "userPrincipalName": user["upn"],
        "additionalInfo": info,
    }


def graph_page(context, items, next_link=None):
    o = {"@odata.context": context}
    if next_link:
        o["@odata.nextLink"] = next_link
    o["value"] = items
    return jdump(o)


def mkuser(g, upn, name, puid=None, **kw):
    u = {"upn": upn, "name": name, "id": g.guid(), "puid": puid or ("1003" + g.hexs(12).upper())}
    u.update(kw)
    return u


def win_device(g, name, browser, join="Hybrid Azure AD joined"):
    return {"id": g.guid(), "name": name, "os": "Windows10", "browser": browser, "compliant": True, "managed": True,
            "trust": join}


def unmanaged(os_, browser):
    return {"id": "", "name": None, "os": os_, "browser": browser, "compliant": False, "managed": False, "trust": None}


def edge_version(t):
    # Edge 121 shipped 2024-01-25, 122 on 2024-02-23, 125 on 2024-05-17; coarse is fine for samples.
    if t < dt("2024-02-23T00:00:00Z"):
        return 121
    if t < dt("2024-04-18T00:00:00Z"):
        return 122
    if t < dt("2024-05-17T00:00:00Z"):
        return 124
    return 125


# --------------------------------------------------------------------------------------------
# FreeRADIUS detail writer
# --------------------------------------------------------------------------------------------

def radius_record(zone, recv_utc, attrs):
    """One detail record: ctime header in the server's zone, TAB-indented attributes, server-added
    Acct-Unique-Session-Id / Stripped-User-Name / Realm / Timestamp, blank line."""
    lt = recv_utc.astimezone(zone)
    header = lt.strftime("%a %b ") + ("%2d" % lt.day) + lt.strftime(" %H:%M:%S %Y")
    lines = [header]
    for k, v in attrs:
        lines.append("\t%s = %s" % (k, v))
    return "\n".join(lines) + "\n\n"


def radius_event_ts(zone, t):
    lt = t.astimezone(zone)
    return '"%s %2d %s %s"' % (lt.strftime("%b"), lt.day, lt.strftime("%Y %H:%M:%S"), lt.tzname())


def acct_unique(user, sess, nas_ip, nas_id, port):
    return hashlib.md5(("%s,%s,%s,%s,,%s" % (user, sess, nas_ip, nas_id, port)).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Scenario 1: impossible travel -> business e-mail compromise (Contoso)
# --------------------------------------------------------------------------------------------

def scenario_bec(out):
    g = Gen(20240312)
    R = g.r
    TENANT = "b5a9f3c2-7d41-4e8a-9c6f-2e1d0a8b4c37"
    base = "scenario-bec"
    la = ZoneInfo("America/Los_Angeles")

    SEA = loc("Seattle", "Washington", "US", 47.6062, -122.3321)
    LAGOS = loc("Lagos", "Lagos", "NG", 6.45, 3.39)
    OFFICE, HOME, EVIL = "203.0.113.10", "198.51.100.23", "185.220.101.45"
    ASN_OFFICE, ASN_HOME, ASN_EVIL = 3356, 7922, 37148

    adele = mkuser(g, "adele.vance@contoso.com", "Adele Vance", puid="10032003598AC1F2")
    admin = mkuser(g, "it.admin@contoso.com", "IT Admin", ip=OFFICE)
    lynne = mkuser(g, "lynne.robbins@contoso.com", "Lynne Robbins", ip=OFFICE)
    sprayed = [mkuser(g, u, n) for u, n in [
        ("alex.wilber@contoso.com", "Alex Wilber"), ("diego.siciliani@contoso.com", "Diego Siciliani"),
        ("isaiah.langer@contoso.com", "Isaiah Langer"), ("johanna.lorenz@contoso.com", "Johanna Lorenz"),
        ("lee.gu@contoso.com", "Lee Gu"), ("megan.bowen@contoso.com", "Megan Bowen")]]
    others = [mkuser(g, u, n) for u, n in [
        ("nestor.wilke@contoso.com", "Nestor Wilke"), ("patti.fernandez@contoso.com", "Patti Fernandez"),
        ("grady.archie@contoso.com", "Grady Archie")]]
    laptop = win_device(g, "CONTOSO-LT-0142", "Edge")
    adm_dev = win_device(g, "CONTOSO-ADM-007", "Edge", "Azure AD joined")
    other_devs = {u["upn"]: win_device(g, "CONTOSO-LT-%04d" % R.randrange(100, 400), "Edge") for u in others + sprayed}

    CA001 = {"id": g.guid(), "name": "CA001: Require MFA for all users", "grant": ["Mfa"]}
    CA002 = {"id": g.guid(), "name": "CA002: Block legacy authentication", "grant": ["Block"]}
    EXCL_GROUP = (g.guid(), "SG-CA-MFA-Exclusions")
    NET_OFFICE = [{"networkType": "trustedNamedLocation", "networkNames": ["Contoso Seattle HQ"]}]

    def ca_ok():
        return [ca_entry(CA001, "success"), ca_entry(CA002, "notApplied")]

    def ca_excluded():
        return [ca_entry(CA001, "notApplied"), ca_entry(CA002, "notApplied")]

    def ca_interrupted():
        return [ca_entry(CA001, "success"), ca_entry(CA002, "notApplied")]

    common = dict(tenant=TENANT)
    excluded_at = dt("2024-03-11T17:42:10Z")

    def legit(t, ip, app="OfficeHome", res="OfficeHome", err=0, kind=None, session=None):
        v = edge_version(t)
        dev = dict(laptop, browser="Edge %d.0.0" % v)
        net = NET_OFFICE if ip == OFFICE else []
        asn = ASN_OFFICE if ip == OFFICE else ASN_HOME
        if t >= excluded_at:  # out of CA001 scope: a PRT sign-in without an MFA requirement
            return signin(g, t=t, user=adele, app=app, res=res, ip=ip, where=SEA, asn=asn, client="Browser",
                          ua=UA_EDGE.format(v=v), device=dev, auth="prt", requirement="singleFactorAuthentication",
                          ca_status="notApplied", ca=ca_excluded(), net=net, session=session, **common)
        if kind == "push":
            return signin(g, t=t, user=adele, app=app, res=res, ip=ip, where=SEA, asn=asn, client="Browser",
                          ua=UA_EDGE.format(v=v), device=dev, err=err, auth="pwd_push", token_in="none",
                          ca_status="success" if err == 0 else ("success" if err == 50074 else "failure"),
                          ca=ca_interrupted() if err else ca_ok(), net=net, session=session,
                          mfa=None if err == 50074 else {"authMethod": "Mobile app notification", "authDetail": None},
                          requirement="multiFactorAuthentication", **common)
        if kind == "typo":
            return signin(g, t=t, user=adele, app=app, res=res, ip=ip, where=SEA, asn=asn, client="Browser",
                          ua=UA_EDGE.format(v=v), device=dev, err=50126, auth="pwd", token_in="none",
                          requirement="singleFactorAuthentication", ca_status="notApplied", ca=[], net=net,
                          session=session, **common)
        return signin(g, t=t, user=adele, app=app, res=res, ip=ip, where=SEA, asn=asn, client="Browser",
                      ua=UA_EDGE.format(v=v), device=dev, ca=ca_ok(), net=net, session=session,
                      mfa={"authMethod": "Previously satisfied", "authDetail": None}, **common)

    graph = []  # sign-ins in the Graph export (adele + anything from the attacker IP)
    # ---- 35 days of baseline: 2024-02-06 .. 2024-03-11 (Seattle local time, PST then PDT) ----
    day0 = datetime(2024, 2, 6, tzinfo=la)
    typo_days = {3, 17}
    push_days = {9: 50074, 22: 500121}
    for n in range(35):
        day = day0 + timedelta(days=n)
        wd = day.weekday()
        if wd >= 5:
            if R.random() < 0.15:
                t = day.replace(hour=R.randrange(9, 20), minute=R.randrange(60), second=R.randrange(60))
                graph.append(legit(t.astimezone(UTC), HOME, app="OWA", res="EXO"))
            continue
        at_home = wd == 4 or R.random() < 0.15
        ip = HOME if at_home else OFFICE
        if n not in typo_days and n not in push_days and R.random() < 0.18:
            continue  # PRT sessions last; not every day needs an interactive sign-in
        t = day.replace(hour=R.choice([7, 8, 8, 8, 9]), minute=R.randrange(60), second=R.randrange(60)).astimezone(UTC)
        sess = g.guid()
        if n in typo_days:
            graph.append(legit(t - timedelta(seconds=R.randrange(20, 50)), ip, kind="typo", session=sess))
        if n in push_days:
            err = push_days[n]
            graph.append(legit(t - timedelta(seconds=R.randrange(30, 90)), ip, kind="push", err=err, session=sess))
            graph.append(legit(t, ip, kind="push", session=sess))
        else:
            graph.append(legit(t, ip, session=sess))
        if R.random() < 0.06:
            t2 = t + timedelta(minutes=R.randrange(3, 40), seconds=R.randrange(60))
            graph.append(legit(t2, ip, app="OWA", res="EXO", session=sess))
        if R.random() < 0.04:
            t3 = day.replace(hour=R.randrange(13, 17), minute=R.randrange(60), second=R.randrange(60)).astimezone(UTC)
            graph.append(legit(t3, ip, app="OfficeHome", res="SPO", session=sess))
    # Monday 2024-03-11 afternoon, after the helpdesk put her in the CA exclusion group (PRT, single factor)
    graph.append(legit(dt("2024-03-11T21:14:37Z"), OFFICE, app="OWA", res="EXO"))

    # ---- incident day 2024-03-12 ----
    day_sess = g.guid()
    s_morning = legit(dt("2024-03-12T09:02:41Z"), HOME, app="OWA", res="EXO", session=day_sess)
    graph.append(s_morning)

    evil_ua = UA_CHROME.format(v=122)
    evil_dev = unmanaged("Windows10", "Chrome 122.0.0")
    evil_risk = {"detail": "none", "agg": "medium", "during": "medium", "state": "atRisk",
                 "types": ["unfamiliarFeatures"]}

    def evil(t, user, err, app="OfficeHome", res="OfficeHome", session=None, risk=None):
        return signin(g, t=t, user=user, app=app, res=res, ip=EVIL, where=LAGOS, asn=ASN_EVIL, client="Browser",
                      ua=evil_ua, device=evil_dev, err=err, auth="pwd", token_in="none",
                      requirement="singleFactorAuthentication", ca_status="notApplied",
                      ca=[] if err else ca_excluded(), session=session, risk=risk, **common)

    spray = []
    t = dt("2024-03-12T09:51:08Z")
    for rnd in range(2):
        for u in sprayed:
            spray.append(evil(t, u, 50126))
            t += timedelta(seconds=R.randrange(11, 29))
        t += timedelta(minutes=2, seconds=R.randrange(60))
    portal_spray = spray
    # failures against adele, then the right password at 10:05:12
    t = dt("2024-03-12T09:58:02Z")
    for _ in range(6):
        graph.append(evil(t, adele, 50126))
        t += timedelta(seconds=R.randrange(35, 70))
    evil_sess = g.guid()
    s_evil = evil(dt("2024-03-12T10:05:12Z"), adele, 0, session=evil_sess, risk=evil_risk)
    graph.append(s_evil)
    s_evil_owa = evil(dt("2024-03-12T10:06:03Z"), adele, 0, app="OWA", res="EXO", session=evil_sess, risk=evil_risk)
    s_evil_owa["auth"] = auth_steps("prt", s_evil_owa["t"])
    graph.append(s_evil_owa)
    s_evil_msi = evil(dt("2024-03-12T10:21:33Z"), adele, 0, app="MySignins", res="AAD", session=evil_sess, risk=evil_risk)
    s_evil_msi["auth"] = auth_steps("prt", s_evil_msi["t"])
    graph.append(s_evil_msi)
    s_evil_spo = evil(dt("2024-03-12T10:40:18Z"), adele, 0, app="OfficeHome", res="SPO", session=evil_sess, risk=evil_risk)
    s_evil_spo["auth"] = auth_steps("prt", s_evil_spo["t"])
    graph.append(s_evil_spo)
    # after containment (14:30-14:31) the attacker comes back: disabled account
    for ts in ("2024-03-12T14:52:40Z", "2024-03-12T14:53:15Z"):
        graph.append(evil(dt(ts), adele, 50057))

    # tenant-wide interactive sign-ins for the portal CSV of 2024-03-12
    portal_only = []
    portal_only.append(signin(g, t=dt("2024-03-12T14:24:51Z"), user=admin, app="AzurePortal", res="ARM", ip=OFFICE,
                              where=SEA, asn=ASN_OFFICE, client="Browser", ua=UA_EDGE.format(v=122),
                              device=dict(adm_dev, browser="Edge 122.0.0"), auth="pwd_push", token_in="none",
                              ca=ca_ok(), net=NET_OFFICE,
                              mfa={"authMethod": "Mobile app notification", "authDetail": None}, **common))
    for u in others + sprayed[:3]:
        tt = datetime(2024, 3, 12, R.choice([7, 8, 8, 9]), R.randrange(60), R.randrange(60), tzinfo=la).astimezone(UTC)
        if tt >= dt("2024-03-13T00:00:00Z"):
            continue
        portal_only.append(signin(g, t=tt, user=u, app="OfficeHome", res="OfficeHome", ip=OFFICE, where=SEA,
                                  asn=ASN_OFFICE, client="Browser", ua=UA_EDGE.format(v=122),
                                  device=dict(other_devs[u["upn"]], browser="Edge 122.0.0"), ca=ca_ok(),
                                  net=NET_OFFICE, mfa={"authMethod": "Previously satisfied", "authDetail": None},
                                  **common))

    graph.sort(key=lambda s: s["t"], reverse=True)  # Graph lists newest first
    sel = ",".join(GRAPH_SELECT)
    ctx = "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns(%s)" % sel
    flt = ("$filter=createdDateTime+ge+2024-02-06T00%3a00%3a00Z+and+createdDateTime+lt+2024-03-13T00%3a00%3a00Z"
           "+and+userPrincipalName+eq+%27adele.vance%40contoso.com%27")
    page = 25
    nxt = "https://graph.microsoft.com/beta/auditLogs/signIns?%s&$select=%s&$top=%d&$skiptoken=%s" % (
        flt, sel, page, g.hexs(64))
    write(f"{base}/entra/signIns_graph_page1.json",
          graph_page(ctx, [graph_select(graph_signin(s)) for s in graph[:page]], nxt), out)
    write(f"{base}/entra/signIns_graph_page2.json",
          graph_page(ctx, [graph_select(graph_signin(s)) for s in graph[page:]]), out)

    day_start, day_end = dt("2024-03-12T00:00:00Z"), dt("2024-03-13T00:00:00Z")
    portal = [s for s in graph if day_start <= s["t"] < day_end] + portal_spray + portal_only
    portal.sort(key=lambda s: s["t"], reverse=True)
    rows = [PORTAL_HEADER] + [portal_row(s) for s in portal]
    write(f"{base}/entra/InteractiveSignIns_2024-03-12_2024-03-13.csv",
          "\ufeff" + csv_text(rows, quote_all=True), out)

    # ---- Entra audit (Graph directoryAudits) ----
    audits = []
    audits.append(audit(g, t=dt("2024-02-20T18:03:27Z"), activity="Update user", category="UserManagement",
                        op_type="Update", by_user=admin,
                        targets=[tgt_user(adele, [mod("TelephoneNumber", "[\"+1 206 555 0142\"]",
                                                      "[\"+1 206 555 0199\"]"),
                                                  mod("Included Updated Properties", None, "\"TelephoneNumber\"")])],
                        details=[{"key": "UserType", "value": "Member"}]))
    corr = g.guid()
    audits.append(audit(g, t=excluded_at, activity="Add member to group", category="GroupManagement", op_type="Assign",
                        by_user=lynne, corr=corr,
                        targets=[tgt_user(adele),
                                 tgt_group(EXCL_GROUP[0], EXCL_GROUP[1],
                                           [mod("Group.ObjectID", None, "\"%s\"" % EXCL_GROUP[0]),
                                            mod("Group.DisplayName", None, "\"%s\"" % EXCL_GROUP[1])])]))
    evil_by = dict(adele, ip=EVIL)
    corr = g.guid()
    audits.append(audit(g, t=dt("2024-03-12T10:23:10Z"), activity="User registered security info",
                        category="UserManagement", op_type="Add", by_user=evil_by, service="Authentication Methods",
                        reason="User registered Authenticator App with Notification and Code", corr=corr,
                        targets=[dict(tgt_user(adele), displayName="Adele Vance")]))
    audits.append(audit(g, t=dt("2024-03-12T10:23:11Z"), activity="Update user", category="UserManagement",
                        op_type="Update", by_user=evil_by, corr=corr,
                        targets=[tgt_user(adele, [
                            mod("StrongAuthenticationPhoneAppDetail", "[]",
                                "[{\"DeviceName\":\"Galaxy S21\",\"DeviceToken\":null,\"DeviceTag\":\"SoftwareTokenActivated\","
                                "\"PhoneAppVersion\":\"6.2402.1078\",\"OathTokenTimeDrift\":0,\"DeviceId\":\"%s\","
                                "\"Id\":\"%s\",\"TimeInterval\":0,\"AuthenticationType\":3,\"NotificationType\":4,"
                                "\"LastAuthenticatedTimestamp\":\"2024-03-12T10:23:09.2016521Z\","
                                "\"AuthenticatorFlavor\":null,\"HashFunction\":null,\"TenantDeviceId\":null,"
                                "\"SecuredPartitionId\":0,\"SecuredKeyId\":0}]" % (g.guid(), g.guid())),
                            mod("Included Updated Properties", None, "\"StrongAuthenticationPhoneAppDetail\"")])],
                        details=[{"key": "UserType", "value": "Member"}]))
    t_reset, t_revoke, t_disable = dt("2024-03-12T14:30:05Z"), dt("2024-03-12T14:30:41Z"), dt("2024-03-12T14:31:02Z")
    audits.append(audit(g, t=t_reset, activity="Reset user password", category="UserManagement", op_type="Update",
                        by_user=admin, targets=[tgt_user(adele)]))
    audits.append(audit(g, t=t_revoke, activity="Update StsRefreshTokenValidFrom Timestamp", category="UserManagement",
                        op_type="Update", by_user=admin,
                        targets=[tgt_user(adele, [mod("StsRefreshTokenValidFrom", "[\"2024-01-09T17:22:48Z\"]",
                                                      "[\"2024-03-12T14:30:41Z\"]"),
                                                  mod("Included Updated Properties", None,
                                                      "\"StsRefreshTokenValidFrom\"")])],
                        details=[{"key": "UserType", "value": "Member"}]))
    audits.append(audit(g, t=t_disable, activity="Disable account", category="UserManagement", op_type="Update",
                        by_user=admin,
                        targets=[tgt_user(adele, [mod("AccountEnabled", "[true]", "[false]"),
                                                  mod("Included Updated Properties", None, "\"AccountEnabled\"")])],
                        details=[{"key": "UserType", "value": "Member"}]))
    audits.append(audit(g, t=dt("2024-03-12T14:45:37Z"), activity="Remove member from group",
                        category="GroupManagement", op_type="Unassign", by_user=admin,
                        targets=[tgt_user(adele),
                                 tgt_group(EXCL_GROUP[0], EXCL_GROUP[1],
                                           [mod("Group.ObjectID", "\"%s\"" % EXCL_GROUP[0], None),
                                            mod("Group.DisplayName", "\"%s\"" % EXCL_GROUP[1], None)])]))
    audits.sort(key=lambda a: a["activityDateTime"], reverse=True)
    write(f"{base}/entra/directoryAudits_graph.json",
          graph_page("https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", audits), out)

    # ---- M365 unified audit log (Purview export, searched for adele + it.admin, 2024-03-05..13) ----
    ORG = TENANT
    ORGNAME = "contoso.onmicrosoft.com"
    SERVER = "BN0PR06MB6942 (15.20.7386.017)"
    mbx_path = "NAMPR06A004.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/%s/%s" % (ORGNAME, adele["id"])
    ual = []  # (time, record_type, operation, user_id, auditdata-json-text, id)

    def add(t, rt, op, uid, data, slash_escape=True):
        ual.append((t, rt, op, uid, jdump_ms(data) if slash_escape else jdump(data), data["Id"]))

    # Entra admin operations mirrored (RecordType 8), names with the trailing period
    def aad_rec(t, op, actor, target, corr_id):
        return {
            "CreationTime": t_ual(t), "Id": g.guid(), "Operation": op, "OrganizationId": ORG, "RecordType": 8,
            "ResultStatus": "Success", "UserKey": "%s@%s" % (actor["puid"], ORGNAME), "UserType": 0, "Version": 1,
            "Workload": "AzureActiveDirectory", "ObjectId": target["upn"], "UserId": actor["upn"],
            "AzureActiveDirectoryEventType": 1,
            "ExtendedProperties": [{"Name": "additionalDetails", "Value": "{}"},
                                   {"Name": "extendedAuditEventCategory", "Value": "User"}],
            "ModifiedProperties": [],
            "Actor": [{"ID": actor["upn"], "Type": 5}, {"ID": actor["puid"], "Type": 3},
                      {"ID": "User_%s" % actor["id"], "Type": 2}, {"ID": actor["id"], "Type": 2},
                      {"ID": "User", "Type": 2}],
            "ActorContextId": ORG, "InterSystemsId": corr_id, "IntraSystemId": "00000000-0000-0000-0000-000000000000",
            "SupportTicketId": "",
            "Target": [{"ID": "User_%s" % target["id"], "Type": 2}, {"ID": target["id"], "Type": 2},
                       {"ID": "User", "Type": 2}, {"ID": target["upn"], "Type": 5}, {"ID": target["puid"], "Type": 3}],
            "TargetContextId": ORG,
        }
    corr_of = {a["activityDisplayName"]: a["correlationId"] for a in audits if a["initiatedBy"]["user"] and
               a["initiatedBy"]["user"]["userPrincipalName"] == admin["upn"]}
    for t, op in ((t_reset, "Reset user password."), (t_revoke, "Update StsRefreshTokenValidFrom Timestamp."),
                  (t_disable, "Disable account.")):
        a = aad_rec(t, op, admin, adele, corr_of[op[:-1]])  # InterSystemsId = the Entra audit correlationId
        if op == "Disable account.":
            a["ModifiedProperties"] = [{"Name": "AccountEnabled", "NewValue": "[\r\n  false\r\n]",
                                        "OldValue": "[\r\n  true\r\n]"},
                                       {"Name": "Included Updated Properties", "NewValue": "AccountEnabled",
                                        "OldValue": ""}]
        add(t, 8, op, admin["upn"], a)

    token_issued = dt("2024-03-12T10:06:03Z")
    evil_token = g.b64url(22)
    rule_name = ".."

    def exo_admin(t, op, params, obj, client_ip, uid=adele, user_type=2, session=None, token=evil_token,
                  issued=token_issued):
        return {
            "AppAccessContext": {"IssuedAtTime": t_ual(issued), "UniqueTokenId": token},
            "CreationTime": t_ual(t), "Id": g.ual_id(), "Operation": op, "OrganizationId": ORG, "RecordType": 1,
            "ResultStatus": "True", "UserKey": uid["puid"], "UserType": user_type, "Version": 1,
            "Workload": "Exchange", "ClientIP": client_ip, "ObjectId": obj, "UserId": uid["upn"],
            "AppId": "00000002-0000-0ff1-ce00-000000000000", "ClientAppId": "", "ExternalAccess": False,
            "OrganizationName": ORGNAME, "OriginatingServer": SERVER, "Parameters": params,
            "SessionId": session or evil_sess,
        }

    t = dt("2024-03-12T10:09:27Z")
    add(t, 1, "New-InboxRule", adele["upn"], exo_admin(t, "New-InboxRule", [
        {"Name": "AlwaysDeleteOutlookRulesBlob", "Value": "False"},
        {"Name": "Force", "Value": "False"},
        {"Name": "ForwardTo", "Value": "adele.vance.backup@protonmail.com"},
        {"Name": "SubjectOrBodyContainsWords", "Value": "invoice;payment"},
        {"Name": "MoveToFolder", "Value": "RSS Feeds"},
        {"Name": "DeleteMessage", "Value": "True"},
        {"Name": "Name", "Value": rule_name},
        {"Name": "StopProcessingRules", "Value": "True"}],
        mbx_path + "\\" + rule_name, EVIL + ":" + str(R.randrange(49152, 65535))))
    t = dt("2024-03-12T10:12:50Z")
    add(t, 1, "Set-Mailbox", adele["upn"], exo_admin(t, "Set-Mailbox", [
        {"Name": "Identity", "Value": adele["id"]},
        {"Name": "ForwardingSmtpAddress", "Value": "smtp:adele.vance.backup@protonmail.com"},
        {"Name": "DeliverToMailboxAndForward", "Value": "False"}],
        mbx_path, EVIL + ":" + str(R.randrange(49152, 65535))))

    mailbox_guid = g.guid()
    sid_base = "S-1-5-21-%d-%d-%d" % (R.randrange(10**9, 4 * 10**9), R.randrange(10**9, 4 * 10**9),
                                     R.randrange(10**9, 4 * 10**9))
    owner_sid = "%s-%d" % (sid_base, R.randrange(1000, 99999))
    folders = {"\\Inbox": "LgAAAAAdhAMRqmYRzZvIAKoAL8RaDQC" + g.alnum_upper(20) + "AAAAAAEMAAAB",
               "\\Sent Items": "LgAAAAAdhAMRqmYRzZvIAKoAL8RaDQC" + g.alnum_upper(20) + "AAAAAAEJAAAB",
               "\\Inbox\\Vendors": "LgAAAAAdhAMRqmYRzZvIAKoAL8RaDQC" + g.alnum_upper(20) + "AAAAB7vKAAAA",
               "\\Archive": "LgAAAAAdhAMRqmYRzZvIAKoAL8RaDQC" + g.alnum_upper(20) + "AAAAAAFhAAAB"}

    def mia(t, access, items_by_folder, client_ip, info, session, token=evil_token, issued=token_issued,
            client_app=APPS["OWA"][0]):
        fl = []
        count = 0
        for path, items in items_by_folder:
            f = {"Id": folders[path], "Path": path}
            if items:
                f["FolderItems"] = items
                count += len(items)
            fl.append(f)
        d = {
            "AppAccessContext": {"IssuedAtTime": t_ual(issued), "UniqueTokenId": token},
            "CreationTime": t_ual(t), "Id": g.ual_id(), "Operation": "MailItemsAccessed", "OrganizationId": ORG,
            "RecordType": 50, "ResultStatus": "Succeeded", "UserKey": adele["puid"], "UserType": 0, "Version": 1,
            "Workload": "Exchange", "ClientIP": client_ip, "UserId": adele["upn"],
            "AppId": "00000002-0000-0ff1-ce00-000000000000", "ClientAppId": client_app,
            "ClientIPAddress": client_ip, "ClientInfoString": info, "ExternalAccess": False,
            "InternalLogonType": 0, "LogonType": 0, "LogonUserSid": owner_sid, "MailboxGuid": mailbox_guid,
            "MailboxOwnerSid": owner_sid, "MailboxOwnerUPN": adele["upn"],
            "OperationProperties": [{"Name": "MailAccessType", "Value": access},
                                    {"Name": "IsThrottled", "Value": "False"}],
            "OrganizationName": ORGNAME, "OriginatingServer": SERVER + "\r\n", "SessionId": session,
            "Folders": fl, "OperationCount": count if count else 1,
        }
        return d

    def items(n, domain_pool):
        out_items = []
        for _ in range(n):
            mid = "<%s%s@%s>" % (g.alnum_upper(12), g.hexs(8).upper(), R.choice(domain_pool))
            out_items.append({"InternetMessageId": mid, "SizeInBytes": R.randrange(9000, 480000)})
        return out_items

    doms = ["BN0PR06MB6942.namprd06.prod.outlook.com", "SJ0PR11MB5150.namprd11.prod.outlook.com",
            "fabrikam.com", "mail.gmail.com", "PH0PR06MB7633.namprd06.prod.outlook.com"]
    info_owa = "Client=OWA;Action=ViaProxy"
    # baseline: adele's own Outlook sync from the office on 3/5..3/11
    for dstr in ("2024-03-05", "2024-03-07", "2024-03-08", "2024-03-11"):
        t = datetime.fromisoformat(dstr + "T08:41:00").replace(tzinfo=la).astimezone(UTC) + \
            timedelta(minutes=R.randrange(0, 50), seconds=R.randrange(60))
        add(t, 50, "MailItemsAccessed", adele["upn"],
            mia(t, "Bind", [("\\Inbox", items(R.randrange(3, 8), doms))], OFFICE, "Client=MSExchangeRPC", g.guid(),
                token=g.b64url(22), issued=t - timedelta(minutes=R.randrange(5, 50)), client_app=APPS["Office"][0]))
    # the attacker's bulk read: two Sync records then Bind batches, 10:14..11:06
    t = dt("2024-03-12T10:14:33Z")
    add(t, 50, "MailItemsAccessed", adele["upn"], mia(t, "Sync", [("\\Inbox", None)], EVIL, info_owa, evil_sess))
    t += timedelta(seconds=41)
    add(t, 50, "MailItemsAccessed", adele["upn"], mia(t, "Sync", [("\\Sent Items", None)], EVIL, info_owa, evil_sess))
    total = 0
    batch_plan = [("\\Inbox", 22)] * 2 + [("\\Inbox\\Vendors", 21)] * 2 + [("\\Sent Items", 20)] * 1 + \
                 [("\\Archive", 22)] * 1
    for path, n in batch_plan:
        t += timedelta(minutes=R.randrange(3, 9), seconds=R.randrange(60))
        n = n - R.randrange(0, 4)
        total += n
        add(t, 50, "MailItemsAccessed", adele["upn"], mia(t, "Bind", [(path, items(n, doms))], EVIL, info_owa, evil_sess))
    mia_bind_total = total
    mia_bind_records = len(batch_plan)
    mia_last = t

    # SharePoint: baseline work on the Finance site, then the attacker's download burst
    site_url = "https://contoso.sharepoint.com/sites/Finance/"
    site_id, web_id, list_id = g.guid(), g.guid(), g.guid()

    def spo(t, op, path, fname, ip, ua, browser, bver, corr_id, platform, managed, size=None):
        ext = fname.rsplit(".", 1)[1]
        d = {
            "AppAccessContext": {"AADSessionId": evil_sess if ip == EVIL else g.guid(), "CorrelationId": corr_id,
                                 "UniqueTokenId": g.b64url(22)},
            "CreationTime": t_ual(t), "Id": g.ual_id(), "Operation": op, "OrganizationId": ORG, "RecordType": 6,
            "UserKey": "i:0h.f|membership|%s@live.com" % adele["puid"].lower(), "UserType": 0, "Version": 1,
            "Workload": "SharePoint", "ClientIP": ip, "UserId": adele["upn"], "ApplicationId": APPS["OfficeHome"][0],
            "AuthenticationType": "OAuth", "BrowserName": browser, "BrowserVersion": bver, "CorrelationId": corr_id,
            "EventSource": "SharePoint", "IsManagedDevice": managed, "ItemType": "File", "ListId": list_id,
            "ListItemUniqueId": g.guid(), "Platform": platform, "Site": site_id, "UserAgent": ua, "WebId": web_id,
            "DeviceDisplayName": ip,
        }
        if size is not None:
            d["FileSizeBytes"] = size
        d.update({"HighPriorityMediaProcessing": False, "ListBaseType": 1, "ListServerTemplate": 101,
                  "SourceFileExtension": ext, "SiteUrl": site_url, "SourceRelativeUrl": path,
                  "SourceFileName": fname, "ObjectId": site_url + path + "/" + fname})
        return d

    legit_files = [("Shared Documents/Reporting/2024", "Q1 Close Checklist.xlsx"),
                   ("Shared Documents/Reporting/2024", "Board Pack Feb 2024.pptx"),
                   ("Shared Documents/Accounts Payable/2024", "AP Aging 2024-02.xlsx"),
                   ("Shared Documents/Treasury", "Cash Forecast W10.xlsx")]
    for i, dstr in enumerate(("2024-03-05", "2024-03-06", "2024-03-08", "2024-03-11")):
        t = datetime.fromisoformat(dstr + "T10:05:00").replace(tzinfo=la).astimezone(UTC) + \
            timedelta(minutes=R.randrange(0, 200), seconds=R.randrange(60))
        p, f = legit_files[i]
        v = edge_version(t)
        for op in ("FileAccessed", "FileDownloaded") if i % 2 else ("FileAccessed",):
            add(t, 6, op, adele["upn"], spo(t, op, p, f, OFFICE if i != 2 else HOME, UA_EDGE.format(v=v), "Edge",
                                            "%d.0.0.0" % v, g.guid(), "WinDesktop", True,
                                            R.randrange(40000, 900000) if op == "FileDownloaded" else None),
                slash_escape=False)
            t += timedelta(seconds=R.randrange(3, 30))

    fin_files = []
    for m in ("2023-10", "2023-11", "2023-12", "2024-01", "2024-02"):
        fin_files += [("Shared Documents/Card Settlements", "Card Settlement Report %s.xlsx" % m),
                      ("Shared Documents/Payroll/EU", "Payroll EU %s.xlsx" % m),
                      ("Shared Documents/Accounts Payable/2024" if m.startswith("2024") else
                       "Shared Documents/Accounts Payable/2023", "AP Aging %s.xlsx" % m)]
    fin_files += [("Shared Documents/Vendors", "Vendor Master - Bank Details.xlsx"),
                  ("Shared Documents/Vendors", "Vendor Onboarding Forms.zip"),
                  ("Shared Documents/Customers", "Customer Payment Cards Export 2024-02.csv"),
                  ("Shared Documents/Customers", "EU Customer List 2024.xlsx"),
                  ("Shared Documents/Treasury", "Wire Transfer Approvals 2024.xlsx"),
                  ("Shared Documents/Treasury", "Bank Mandates and Signatories.pdf"),
                  ("Shared Documents/HR Finance", "Employee Bank Accounts.xlsx")]
    for k in range(1, 39):
        fin_files.append(("Shared Documents/Accounts Payable/Invoices/2024",
                          "INV-2024-%04d.pdf" % (117 + k * 3 + R.randrange(0, 3))))
    t = dt("2024-03-12T10:41:07Z")
    spo_corr = g.guid()
    downloads = 0
    for p, f in fin_files:
        add(t, 6, "FileDownloaded", adele["upn"],
            spo(t, "FileDownloaded", p, f, EVIL, evil_ua, "Chrome", "122.0.0.0", spo_corr, "WinDesktop", False,
                R.randrange(60000, 4200000)), slash_escape=False)
        downloads += 1
        t += timedelta(seconds=R.randrange(20, 70))
    last_download = t

    # admin remediation in Exchange (it.admin from the office)
    adm_token = g.b64url(22)
    adm_issued = dt("2024-03-12T14:24:51Z")
    adm_sess = g.guid()
    t = dt("2024-03-12T14:41:19Z")
    add(t, 1, "Remove-InboxRule", admin["upn"], exo_admin(
        t, "Remove-InboxRule", [{"Name": "Identity", "Value": adele["id"] + "\\" + rule_name},
                                {"Name": "Confirm", "Value": "False"}],
        mbx_path + "\\" + rule_name, OFFICE + ":" + str(R.randrange(49152, 65535)), uid=admin, user_type=2,
        session=adm_sess, token=adm_token, issued=adm_issued))
    t = dt("2024-03-12T14:42:03Z")
    add(t, 1, "Set-Mailbox", admin["upn"], exo_admin(
        t, "Set-Mailbox", [{"Name": "Identity", "Value": adele["upn"]},
                           {"Name": "ForwardingSmtpAddress", "Value": ""},
                           {"Name": "DeliverToMailboxAndForward", "Value": "False"}],
        mbx_path, OFFICE + ":" + str(R.randrange(49152, 65535)), uid=admin, user_type=2, session=adm_sess,
        token=adm_token, issued=adm_issued))

    ual.sort(key=lambda r: (r[0], r[5]))
    rows = [["RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData", "AssociatedAdminUnits",
             "AssociatedAdminUnitsNames"]]
    for t, rt, op, uid, data, rid in ual:
        rows.append([rid, t_purview(t), str(rt), op, uid, data, "", ""])
    write(f"{base}/m365/Audit_Log_Search_adele_2024-03-05_2024-03-13.csv", csv_text(rows), out)

    # ---- FortiGate (America/Los_Angeles) ----
    fgt_lines = []
    DEV, DEVID = "FGT-SEA-HQ", "FG100FTK21004321"

    def fgt(t, kv, pri, style):
        lt = t.astimezone(la)
        head = [("date", lt.strftime("%Y-%m-%d")), ("time", lt.strftime("%H:%M:%S")),
                ("devname", '"%s"' % DEV), ("devid", '"%s"' % DEVID)]
        tail = []
        ns = int(t.timestamp()) * 1_000_000_000 + R.randrange(0, 999_999_999)
        if style in ("ns", "both"):
            tail.append(("eventtime", str(ns)))
        if style in ("tz", "both"):
            tail.append(("tz", '"%s"' % lt.strftime("%z")))
        parts = head + kv[:1] + kv[1:5] + tail + kv[5:]
        fgt_lines.append((t, "<%d>" % pri + " ".join("%s=%s" % p for p in parts)))

    def q(v):
        return '"%s"' % v

    def vpn_event(t, logid, level, pri, desc, action, extra, style="tz"):
        kv = [("logid", q(logid)), ("type", q("event")), ("subtype", q("vpn")), ("level", q(level)),
              ("vd", q("root")), ("logdesc", q(desc)), ("action", q(action))] + extra
        fgt(t, kv, pri, style)

    def ssl_session(user, remip, start, end, tunnelip, sent, rcvd, reason_down="N/A"):
        # tunnel ids grow with time on the box
        tid = 6_260_000 + int((start - dt("2024-03-11T00:00:00Z")).total_seconds() // 97)
        vpn_event(start - timedelta(seconds=2), "0101039943", "information", 190, "SSL VPN new connection",
                  "ssl-new-con", [("tunneltype", q("ssl")), ("tunnelid", "0"), ("remip", remip), ("user", q("N/A")),
                                  ("group", q("N/A")), ("dst_host", q("N/A")), ("reason", q("N/A")),
                                  ("msg", q("SSL new connection"))])
        vpn_event(start, "0101039947", "information", 190, "SSL VPN tunnel up", "tunnel-up",
                  [("tunneltype", q("ssl-tunnel")), ("tunnelid", str(tid)), ("remip", remip),
                   ("tunnelip", tunnelip), ("user", q(user)), ("group", q("VPN-Users")), ("dst_host", q("N/A")),
                   ("reason", q("tunnel established")), ("msg", q("SSL tunnel established"))])
        if end is not None:
            vpn_event(end, "0101039948", "information", 190, "SSL VPN tunnel down", "tunnel-down",
                      [("tunneltype", q("ssl-tunnel")), ("tunnelid", str(tid)), ("remip", remip),
                       ("tunnelip", tunnelip), ("user", q(user)), ("group", q("VPN-Users")), ("dst_host", q("N/A")),
                       ("reason", q(reason_down)), ("duration", str(int((end - start).total_seconds()))),
                       ("sentbyte", str(sent)), ("rcvdbyte", str(rcvd)), ("msg", q("SSL tunnel shutdown"))])

    def login_fail(t, user, remip, reason):
        vpn_event(t, "0101039426", "alert", 185, "SSL VPN login fail", "ssl-login-fail",
                  [("tunneltype", q("ssl-web")), ("tunnelid", "0"), ("remip", remip), ("user", q(user)),
                   ("group", q("N/A")), ("dst_host", q("N/A")), ("reason", q(reason)),
                   ("msg", q("SSL user failed to logged in"))])

    sess_no = [R.randrange(180_000_000, 190_000_000)]

    def traffic(t, src, sport, dst, dport, service, action, policyid, polname, sent, rcvd, dur, user,
                dstintf="internal1", subtype="forward", srcintf="ssl.root", srcintfrole="undefined",
                dstintfrole="lan", proto=6, style="ns"):
        sess_no[0] += R.randrange(50, 3000)
        kv = [("logid", q("0000000013" if subtype == "forward" else "0001000014")), ("type", q("traffic")),
              ("subtype", q(subtype)), ("level", q("notice")), ("vd", q("root")),
              ("srcip", src), ("srcport", str(sport)), ("srcintf", q(srcintf)), ("srcintfrole", q(srcintfrole)),
              ("dstip", dst), ("dstport", str(dport)), ("dstintf", q(dstintf)), ("dstintfrole", q(dstintfrole)),
              ("srccountry", q("Reserved" if src.startswith("10.") else "Nigeria")),
              ("dstcountry", q("Reserved")), ("sessionid", str(sess_no[0])), ("proto", str(proto)),
              ("action", q(action)), ("policyid", str(policyid)), ("policytype", q("policy")),
              ("poluuid", q(POLUUID[policyid])), ("policyname", q(polname)), ("user", q(user)) if user else None,
              ("group", q("VPN-Users")) if user else None, ("authserver", q("RADIUS-NPS")) if user else None,
              ("service", q(service)), ("trandisp", q("noop")), ("duration", str(dur)), ("sentbyte", str(sent)),
              ("rcvdbyte", str(rcvd)), ("sentpkt", str(max(1, sent // 1200))), ("rcvdpkt", str(max(1, rcvd // 1300))),
              ("appcat", q("unscanned"))]
        fgt(t, [p for p in kv if p], 189, style)

    POLUUID = {12: g.guid(), 14: g.guid(), 0: g.guid(), 3: g.guid()}

    # adele's own VPN use from home, Monday 3/11 evening (PDT)
    a_start = datetime(2024, 3, 11, 19, 10, 44, tzinfo=la).astimezone(UTC)
    a_end = datetime(2024, 3, 11, 21, 38, 2, tzinfo=la).astimezone(UTC)
    ssl_session("adele.vance@contoso.com", HOME, a_start, a_end, "10.8.20.9", 38_221_904, 412_993_120,
                "user-logout")
    # nestor.wilke's normal session on 3/12 morning
    n_start = datetime(2024, 3, 12, 8, 5, 12, tzinfo=la).astimezone(UTC)
    n_end = datetime(2024, 3, 12, 11, 41, 37, tzinfo=la).astimezone(UTC)
    ssl_session("nestor.wilke@contoso.com", "198.51.100.88", n_start, n_end, "10.8.20.17", 91_522_044, 733_410_978,
                "user-logout")
    # the attacker: failures, spray, then a tunnel as adele
    login_fail(dt("2024-03-12T10:48:57Z"), "adele.vance", EVIL, "sslvpn_login_permission_denied")
    login_fail(dt("2024-03-12T10:49:30Z"), "adele.vance", EVIL, "sslvpn_login_permission_denied")
    login_fail(dt("2024-03-12T10:50:12Z"), "alex.wilber@contoso.com", EVIL, "sslvpn_login_permission_denied")
    login_fail(dt("2024-03-12T10:50:40Z"), "admin", EVIL, "sslvpn_login_unknown_user")
    login_fail(dt("2024-03-12T10:51:05Z"), "megan.bowen@contoso.com", EVIL, "sslvpn_login_permission_denied")
    e_start, e_end = dt("2024-03-12T11:02:09Z"), dt("2024-03-12T14:36:08Z")
    E_TUN = "10.8.20.14"
    # the attacker's flows through the tunnel
    t = e_start + timedelta(minutes=3)
    ev_sent = ev_rcvd = 0
    flows = [("10.20.1.5", 389, "LDAP", "accept", 12, "vpn-to-servers"), ("10.20.1.15", 445, "SMB", "accept", 12,
             "vpn-to-servers"), ("10.20.1.20", 3389, "RDP", "deny", 0, "Implicit Deny"),
             ("10.20.1.21", 3389, "RDP", "deny", 0, "Implicit Deny"), ("10.20.1.15", 445, "SMB", "accept", 12,
             "vpn-to-servers"), ("10.20.1.16", 445, "SMB", "accept", 12, "vpn-to-servers"),
             ("10.20.1.15", 445, "SMB", "accept", 12, "vpn-to-servers"), ("10.20.1.22", 22, "SSH", "deny", 0,
             "Implicit Deny"), ("10.20.1.15", 445, "SMB", "accept", 12, "vpn-to-servers")]
    for dst, dport, svc, action, pol, pname in flows:
        if action == "accept":
            sent, rcvd, dur = R.randrange(200_000, 9_000_000), R.randrange(20_000_000, 240_000_000), R.randrange(60, 1500)
            if dport == 389:
                sent, rcvd = R.randrange(20_000, 90_000), R.randrange(400_000, 3_000_000)
        else:
            sent, rcvd, dur = 52, 0, 0
        ev_sent += sent
        ev_rcvd += rcvd
        traffic(t, E_TUN, R.randrange(49152, 65535), dst, dport, svc, "close" if action == "accept" else "deny",
                pol, pname, sent, rcvd, dur, "adele.vance@contoso.com")
        t += timedelta(minutes=R.randrange(4, 16), seconds=R.randrange(60))
    ssl_session("adele.vance@contoso.com", EVIL, e_start, e_end, E_TUN, ev_sent + 3_110_492, ev_rcvd + 18_402_331,
                "N/A")
    # containment on the firewall: address object + block, then the attacker's retries are denied
    fgt(dt("2024-03-12T14:39:51Z"),
        [("logid", q("0100044547")), ("type", q("event")), ("subtype", q("system")), ("level", q("information")),
         ("vd", q("root")), ("logdesc", q("Object attribute configured")), ("user", q("it.admin")),
         ("ui", q("GUI(10.20.5.21)")), ("action", q("Add")), ("cfgtid", str(R.randrange(10**8, 10**9))),
         ("cfgpath", q("firewall.address")), ("cfgobj", q("IOC-185.220.101.45")),
         ("cfgattr", q("subnet[185.220.101.45 255.255.255.255]")),
         ("msg", q("Add firewall.address IOC-185.220.101.45"))], 190, "both")
    for ts in ("2024-03-12T14:55:02Z", "2024-03-12T14:55:09Z", "2024-03-12T15:07:44Z"):
        traffic(dt(ts), EVIL, R.randrange(49152, 65535), "203.0.113.2", 443, "HTTPS", "deny", 0,
                "Implicit Deny", 0, 0, 0, None, dstintf="root", subtype="local", srcintf="wan1", srcintfrole="wan",
                dstintfrole="undefined")
    fgt_lines.sort(key=lambda x: x[0])
    write(f"{base}/fortigate/FGT-SEA-HQ_syslog_2024-03-11_2024-03-12.log",
          "".join(line + "\n" for _, line in fgt_lines), out)

    # ---- FreeRADIUS accounting detail (NAS = the FortiGate SSL-VPN), server in America/Los_Angeles ----
    NAS_IP, NAS_ID, CALLED = "10.10.0.1", "FGT-SEA-HQ", "203.0.113.2"
    CLASS = "0x" + b"contoso-vpn".hex()
    files = {}

    def acct_session(user, calling, framed, start, stop, interval, octets_in, octets_out, cause, sess_id):
        stripped, realm = user.split("@")
        uniq = acct_unique(user, sess_id, NAS_IP, NAS_ID, 0)
        n_int = int((stop - start).total_seconds()) // interval
        points = [("Start", start)] + [("Interim-Update", start + timedelta(seconds=interval * (i + 1)))
                                        for i in range(n_int)] + [("Stop", stop)]
        dur_total = (stop - start).total_seconds()
        for kind, t in points:
            frac = (t - start).total_seconds() / dur_total if dur_total else 1
            # front-loaded traffic for the attacker, flat for users
            fi = min(1.0, frac ** 0.35) if cause == "Admin-Reset" else frac
            attrs = [("Acct-Status-Type", kind), ("User-Name", '"%s"' % user), ("NAS-IP-Address", NAS_IP),
                     ("NAS-Identifier", '"%s"' % NAS_ID), ("NAS-Port", "0"), ("NAS-Port-Type", "Virtual"),
                     ("Service-Type", "Framed-User"), ("Framed-Protocol", "PPP"), ("Framed-IP-Address", framed),
                     ("Called-Station-Id", '"%s"' % CALLED), ("Calling-Station-Id", '"%s"' % calling),
                     ("Acct-Session-Id", '"%s"' % sess_id), ("Acct-Authentic", "RADIUS"), ("Class", CLASS),
                     ("Fortinet-Vdom-Name", '"root"'), ("Fortinet-Group-Name", '"VPN-Users"'),
                     ("Fortinet-Client-IP-Address", calling)]
            if kind != "Start":
                oi, oo = int(octets_in * fi), int(octets_out * fi)
                attrs += [("Acct-Session-Time", str(int((t - start).total_seconds()))),
                          ("Acct-Input-Octets", str(oi % 2**32)), ("Acct-Output-Octets", str(oo % 2**32)),
                          ("Acct-Input-Gigawords", str(oi >> 32)), ("Acct-Output-Gigawords", str(oo >> 32)),
                          ("Acct-Input-Packets", str(oi // 610)), ("Acct-Output-Packets", str(oo // 1150))]
            if kind == "Stop":
                attrs.append(("Acct-Terminate-Cause", cause))
            attrs += [("Event-Timestamp", radius_event_ts(la, t)), ("Acct-Delay-Time", "0"),
                      ("Acct-Unique-Session-Id", '"%s"' % uniq), ("Stripped-User-Name", '"%s"' % stripped),
                      ("Realm", '"%s"' % realm), ("Timestamp", str(int(t.timestamp())))]
            day = t.astimezone(la).strftime("%Y%m%d")
            files.setdefault(day, []).append((t, radius_record(la, t, attrs)))

    # Friday 3/8 (PST) and Monday 3/11 (PDT): adele from home; 3/12: nestor, then the attacker as adele
    acct_session("adele.vance@contoso.com", HOME, "10.8.20.11",
                 datetime(2024, 3, 8, 17, 31, 20, tzinfo=la).astimezone(UTC),
                 datetime(2024, 3, 8, 19, 4, 51, tzinfo=la).astimezone(UTC), 3600, 21_003_118, 244_871_090,
                 "User-Request", "%08x" % R.randrange(0x04a00000, 0x04afffff))
    acct_session("adele.vance@contoso.com", HOME, "10.8.20.9", a_start, a_end, 3600, 38_221_904, 412_993_120,
                 "User-Request", "%08x" % R.randrange(0x04b00000, 0x04bfffff))
    acct_session("nestor.wilke@contoso.com", "198.51.100.88", "10.8.20.17", n_start, n_end, 3600, 91_522_044,
                 733_410_978, "User-Request", "%08x" % R.randrange(0x04c00000, 0x04c7ffff))
    acct_session("adele.vance@contoso.com", EVIL, E_TUN, e_start, e_end, 3600, ev_sent + 3_110_492,
                 ev_rcvd + 18_402_331, "Admin-Reset", "%08x" % R.randrange(0x04c80000, 0x04cfffff))
    rad_counts = {}
    for day, recs in sorted(files.items()):
        recs.sort(key=lambda x: x[0])
        write(f"{base}/radacct/{NAS_IP}/detail-{day}", "".join(r for _, r in recs), out)
        rad_counts[day] = len(recs)

    # ---- case.toml ----
    write(f"{base}.case.toml", CASE_BEC, out)
    facts = {
        "graph_signins": len(graph), "graph_p2": len(graph) - 25, "portal_rows": len(portal), "audits": len(audits), "ual_rows": len(ual),
        "mia_bind_items": mia_bind_total, "mia_bind_records": mia_bind_records, "mia_last": t_graph(mia_last),
        "downloads": downloads, "baseline_signins": sum(1 for s in graph if s["t"] < dt("2024-03-12T00:00:00Z")), "last_download": t_graph(last_download),
        "fgt_lines": len(fgt_lines),
        "adele_day": sum(1 for s in portal if s["user"] is adele), "radius": rad_counts,
        "evil_signin_id": s_evil["id"], "morning_signin_id": s_morning["id"],
        "spray_failures": len(spray),
    }
    write(f"{base}.md", SCENARIO_BEC.format(**facts, radius_str=", ".join(
        "detail-%s: %d" % kv for kv in sorted(rad_counts.items()))), out)
    return facts


CASE_BEC = """\
# irpack case file — scenario "impossible travel -> business e-mail compromise" (generated by
# samples/scenarios/generate.py; edit the generator, not this file).
case_id = "IR-2024-0312-CONTOSO-BEC"
organisation = "Contoso Ltd"
examiner = "Jordan Rivera, Contoso SOC (on call)"
aware_at = "2024-03-12T13:00:00Z"

[alert]
type = "impossibleTravel"
ids = ["da638458312094471131_-1822390547"]
time = "2024-03-12T12:46:31Z"
users = ["adele.vance@contoso.com"]
title = "Impossible travel activity involving one user"
window_start = "2024-03-12T00:00:00Z"
window_end = "2024-03-13T00:00:00Z"

[time_zones]
fortigate = "America/Los_Angeles"
radius_detail = "America/Los_Angeles"

[network]
corporate_egress = ["203.0.113.0/28"]
vpn_ranges = ["10.8.0.0/16"]

[ioc]
ips = ["185.220.101.45"]

[[data.assets]]
kind = "site"
id = "https://contoso.sharepoint.com/sites/Finance"
categories = ["eu_personal_data", "cardholder_data"]

[[data.assets]]
kind = "mailbox"
id = "adele.vance@contoso.com"
categories = ["eu_personal_data"]
"""

SCENARIO_BEC = """\
# Scenario: impossible travel → business e-mail compromise (Contoso Ltd)

Generated by `samples/scenarios/generate.py` (fixed seed); all names, ids and addresses are invented
(documentation IP ranges, except the attacker IP 185.220.101.45 the brief fixes).

## What happened
Adele Vance (adele.vance@contoso.com, Finance, Seattle) normally signs in from the Seattle office
(203.0.113.10, trusted named location) or home (198.51.100.23), Windows 10 laptop CONTOSO-LT-0142
(hybrid joined, compliant), Edge, MFA satisfied by the claim in her PRT. 35 days of that baseline are in
the Graph export (2024-02-06 → 2024-03-11), with a few ordinary failures (two mistyped passwords 50126,
one MFA interrupt 50074, one denied push 500121).

* **2024-03-11 17:42:10Z** — helpdesk (lynne.robbins) adds her to `SG-CA-MFA-Exclusions` (phone
  replacement ticket). CA001 "Require MFA for all users" no longer applies to her: from then on her
  sign-ins are single-factor (`conditionalAccessStatus` notApplied). That is the gap.
* **2024-03-12 09:02:41Z** — her own sign-in from home, Seattle (id `{morning_signin_id}`).
* **09:51–10:00Z** — 185.220.101.45 (Lagos, NG, AS37148) sprays 6 other users, 2 attempts each
  ({spray_failures} × 50126), then 6 × 50126 against adele (09:58–10:04).
* **10:05:12Z** — success as adele from 185.220.101.45, Chrome on unmanaged Windows, **single-factor**,
  risk medium `unfamiliarFeatures` (id `{evil_signin_id}`). 62 minutes after Seattle, ≈ 12,000 km away:
  impossible travel (~11,600 km/h). Then One Outlook Web (10:06:03), My Signins (10:21:33), SharePoint (10:40:18).
* **10:09:27Z** `New-InboxRule` ".." — ForwardTo adele.vance.backup@protonmail.com,
  SubjectOrBodyContainsWords `invoice;payment`, MoveToFolder "RSS Feeds", DeleteMessage True.
* **10:12:50Z** `Set-Mailbox` ForwardingSmtpAddress `smtp:adele.vance.backup@protonmail.com`.
* **10:14:33Z → {mia_last}** `MailItemsAccessed` from the attacker IP (OWA): 2 Sync (Inbox, Sent Items)
  + {mia_bind_records} Bind records with {mia_bind_items} items (baseline: one Bind of 3–7 items a day from
  Outlook in the office).
* **10:23:10Z** "User registered security info" (Authenticator App) + "Update user"
  StrongAuthenticationPhoneAppDetail, initiated by adele from 185.220.101.45 — persistence.
* **10:41:07Z → {last_download}** {downloads} × `FileDownloaded` from https://contoso.sharepoint.com/sites/Finance
  (card settlement reports, EU payroll, vendor bank details, invoices).
* **10:48–10:51Z** (03:48 PDT) FortiGate SSL-VPN login failures from 185.220.101.45 (adele.vance,
  alex.wilber, admin, megan.bowen); **11:02:09Z** tunnel up as adele.vance@contoso.com, tunnel IP
  10.8.20.14; LDAP/SMB to 10.20.1.x, RDP/SSH denied. RADIUS accounting Start/Interim/Stop for the same
  session with Calling-Station-Id 185.220.101.45.
* **12:46:31Z** alert (Defender for Cloud Apps "Impossible travel activity"); **13:00Z** aware.
* **14:30:05Z** it.admin "Reset user password", **14:30:41Z** "Update StsRefreshTokenValidFrom
  Timestamp" (revoke sessions), **14:31:02Z** "Disable account"; **14:36:08Z** VPN session ends
  (RADIUS Stop, Acct-Terminate-Cause Admin-Reset = CoA disconnect); 14:39:51Z FortiGate address object
  IOC-185.220.101.45; 14:41/14:42Z Remove-InboxRule and Set-Mailbox ForwardingSmtpAddress "" (by
  it.admin); 14:45:37Z removed from the exclusion group; 14:52/14:53Z the attacker's retries fail with
  50057 (disabled); 14:55Z+ FortiGate denies 185.220.101.45.

## Expected verdict
**True Positive — Confirmed Compromise.** Anomalous sign-in (new country NG, new ASN, unmanaged
device, 6 failures then success, single-factor from an unknown IP, IOC IP) followed by persistence
(external forwarding inbox rule, mailbox forwarding, MFA method registered from the attacker IP) and
bulk data access (downloads and mail items far above baseline); the same IP used the VPN as adele and
sprayed six other users (pivot). Containment is visible in the logs (reset, revoke, disable, VPN CoA).

Regulatory: **GDPR** applies (EU personal data on the Finance site and in the mailbox; 72 h from
aware_at 2024-03-12T13:00Z → 2024-03-15T13:00Z); **PCI DSS** applies (cardholder data on the Finance
site; notify card brands / acquirer immediately).

## Files
| file | what | records |
|---|---|---|
| `entra/signIns_graph_page1.json`, `entra/signIns_graph_page2.json` | Graph beta `auditLogs/signIns?$filter=…userPrincipalName eq 'adele…'&$select=…&$top=25`, newest first; page 1 has `@odata.nextLink`, page 2 none. Only the selected properties are present (no `authenticationDetails`). | {graph_signins} sign-ins (25 + {graph_p2}; {baseline_signins} before 3/12) |
| `entra/InteractiveSignIns_2024-03-12_2024-03-13.csv` | Entra portal download for 3/12 (whole tenant: adele, the spray, colleagues, it.admin), UTF-8 BOM, all quoted, CRLF, newest first. adele's {adele_day} rows of 3/12 are also in the Graph pages with the same Request ID and the same second | {portal_rows} rows |
| `entra/directoryAudits_graph.json` | Graph v1.0 `auditLogs/directoryAudits` | {audits} |
| `m365/Audit_Log_Search_adele_2024-03-05_2024-03-13.csv` | Purview export (users adele + it.admin), CRLF, CreationDate locale UTC | {ual_rows} rows |
| `fortigate/FGT-SEA-HQ_syslog_2024-03-11_2024-03-12.log` | FortiGate kv syslog, local time America/Los_Angeles: VPN events carry `tz="-0700"` only, traffic lines `eventtime` (ns) only, the config event both | {fgt_lines} lines |
| `radacct/10.10.0.1/detail-YYYYMMDD` | FreeRADIUS 3 detail (ctime headers and Event-Timestamp in America/Los_Angeles: PST on 3/8, PDT after 3/10) | {radius_str} |

Quirks on purpose: Entra audit names have no trailing period ("Reset user password") while the UAL copies
do ("Reset user password."); Exchange/AAD AuditData escape `/` as `\\/`, SharePoint AuditData does not; MailItemsAccessed
`OriginatingServer` ends with `\\r\\n`; the 14:42 Set-Mailbox *clears* forwarding (it is remediation,
not a second forwarding).
"""


# --------------------------------------------------------------------------------------------
# Scenario 2: 19 leakedCredentials alerts over a long weekend, caused by automated revocations
# --------------------------------------------------------------------------------------------

def scenario_fp(out):
    g = Gen(20240525)
    R = g.r
    TENANT = "3e9d1c84-52a7-4f0b-8c16-7a4e2b9f0d53"
    base = "scenario-fp-revocations"
    ny = ZoneInfo("America/New_York")
    ATL = loc("Atlanta", "Georgia", "US", 33.749, -84.388)
    OFFICE, VPN = "203.0.113.50", "198.51.100.40"
    ASN_OFFICE, ASN_VPN = 3356, 16509
    NET = {OFFICE: [{"networkType": "trustedNamedLocation", "networkNames": ["Adatum SOC Atlanta"]}],
           VPN: [{"networkType": "trustedNamedLocation", "networkNames": ["Adatum VPN egress"]}]}
    people = [
        ("naomi.chen", "Naomi Chen", "General Manager"),
        ("marcus.webb", "Marcus Webb", "Head of Security"),
        ("priyanka.iyer", "Priyanka Iyer", "SOC Team Lead"),
        ("tom.haddad", "Tom Haddad", "SOC Team Lead"),
        ("elena.petrova", "Elena Petrova", "Senior Security Consultant"),
        ("sam.okoro", "Sam Okoro", "Security Analyst (on call)"),
    ] + [(u, n, "Security Analyst") for u, n in [
        ("aisha.rahman", "Aisha Rahman"), ("ben.carter", "Ben Carter"), ("carlos.mendes", "Carlos Mendes"),
        ("dana.kim", "Dana Kim"), ("erik.lund", "Erik Lund"), ("fatima.zahra", "Fatima Zahra"),
        ("george.liu", "George Liu"), ("hana.sato", "Hana Sato"), ("ivan.horvat", "Ivan Horvat"),
        ("julia.moreau", "Julia Moreau"), ("kevin.osei", "Kevin Osei"), ("laura.bianchi", "Laura Bianchi"),
        ("mo.farouk", "Mo Farouk")]]
    users = [mkuser(g, "%s@adatum.com" % u, n, title=title) for u, n, title in people]
    gm, oncall = users[0], users[5]
    devices = {u["upn"]: win_device(g, "ADT-SOC-%03d" % (i + 11), "Edge", "Azure AD joined") for i, u in enumerate(users)}
    CA = {"id": g.guid(), "name": "SOC-CA01: Require MFA and compliant device", "grant": ["Mfa", "CompliantDevice"]}
    CA_GA = {"id": g.guid(), "name": "SOC-CA02: Phishing-resistant MFA for admins", "grant": ["Mfa"]}

    sign = []
    start_day = datetime(2024, 4, 26, tzinfo=ny)
    for u in users:
        dev = devices[u["upn"]]
        weekdays = [start_day + timedelta(days=d) for d in range(29) if (start_day + timedelta(days=d)).weekday() < 5]
        picks = sorted(R.sample(range(len(weekdays)), 2))
        if picks[1] - picks[0] < 6:
            picks = [picks[0] % 6, 14 + picks[1] % 6]
        for k, idx in enumerate(picks):
            day = weekdays[idx]
            ip = VPN if R.random() < 0.25 else OFFICE
            t = day.replace(hour=R.choice([7, 8, 8, 9]), minute=R.randrange(60), second=R.randrange(60),
                            microsecond=R.randrange(10**6)).astimezone(UTC)
            v = edge_version(t)
            ca = [ca_entry(CA, "success")] + ([ca_entry(CA_GA, "success")] if u is gm else [])
            if k == 0 and R.random() < 0.5:
                s = signin(g, t=t, user=u, app="OfficeHome", res="OfficeHome", ip=ip, where=ATL,
                           asn=ASN_OFFICE if ip == OFFICE else ASN_VPN, client="Browser", ua=UA_EDGE.format(v=v),
                           device=dict(dev, browser="Edge %d.0.0" % v), auth="pwd_push", token_in="none", ca=ca,
                           mfa={"authMethod": "Mobile app notification", "authDetail": None}, net=NET[ip],
                           tenant=TENANT, frac=t.microsecond * 10 + R.randrange(10))
            else:
                app = R.choice(["OfficeHome", "AzurePortal", "OWA"])
                s = signin(g, t=t, user=u, app=app, res={"OfficeHome": "OfficeHome", "AzurePortal": "ARM",
                                                         "OWA": "EXO"}[app], ip=ip,
                           where=ATL, asn=ASN_OFFICE if ip == OFFICE else ASN_VPN, client="Browser",
                           ua=UA_EDGE.format(v=v), device=dict(dev, browser="Edge %d.0.0" % v), ca=ca,
                           mfa={"authMethod": "Previously satisfied", "authDetail": None}, net=NET[ip],
                           tenant=TENANT, frac=t.microsecond * 10 + R.randrange(10))
            sign.append(s)
        # a non-interactive refresh (Teams desktop) for some of them
        if R.random() < 0.6:
            continue
        day = weekdays[R.randrange(len(weekdays))]
        t = day.replace(hour=R.randrange(10, 17), minute=R.randrange(60), second=R.randrange(60),
                        microsecond=R.randrange(10**6)).astimezone(UTC)
        sign.append(signin(g, t=t, user=u, app="Teams", res="Teams", ip=OFFICE, where=ATL, asn=ASN_OFFICE,
                           client="Mobile Apps and Desktop clients",
                           ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                              "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 Teams/24102.2223.2870.9480/49",
                           device=dict(dev, browser="Rich Client 4.61.0.0"), auth="refresh", interactive=False,
                           token_in="refreshToken", ca=[ca_entry(CA, "success")], net=NET[OFFICE],
                           mfa={"authMethod": "Previously satisfied", "authDetail": None}, tenant=TENANT,
                           frac=t.microsecond * 10 + R.randrange(10)))

    # ---- the weekend: automated revocations ~06:4x UTC Saturday, offline leaked-credential detections ----
    IDP = {"appId": None, "name": "Azure AD Identity Protection", "spid": g.guid(), "spn": None}
    SUBSTRATE = {"appId": None, "name": "Microsoft Substrate Management", "spid": g.guid(), "spn": None}
    audits_rec = []
    risks = []
    revoked_at = {}
    t = dt("2024-05-25T06:41:17Z")
    for i, u in enumerate(users):
        t += timedelta(seconds=R.randrange(4, 31))
        corr = g.guid()
        old = dt("2024-05-%02dT%02d:%02d:%02dZ" % (R.randrange(1, 24), R.randrange(24), R.randrange(60), R.randrange(60)))
        a1 = audit(g, t=t, activity="Update StsRefreshTokenValidFrom Timestamp", category="UserManagement",
                   op_type="Update", by_app=IDP, corr=corr,
                   targets=[tgt_user(u, [mod("StsRefreshTokenValidFrom", "[\"%s\"]" % t_graph(old),
                                             "[\"%s\"]" % t_graph(t)),
                                         mod("Included Updated Properties", None, "\"StsRefreshTokenValidFrom\"")])],
                   details=[{"key": "UserType", "value": "Member"}])
        t2 = t + timedelta(milliseconds=R.randrange(200, 1900))
        a2 = audit(g, t=t2, activity="Update user", category="UserManagement", op_type="Update", by_app=SUBSTRATE,
                   corr=corr,
                   targets=[tgt_user(u, [mod("StsRefreshTokenValidFrom", "[\"%s\"]" % t_graph(old),
                                             "[\"%s\"]" % t_graph(t)),
                                         mod("Included Updated Properties", None, "\"StsRefreshTokenValidFrom\"")])],
                   details=[{"key": "UserType", "value": "Member"}])
        audits_rec += [a1, a2]
        revoked_at[u["upn"]] = t
        det = t + timedelta(minutes=R.randrange(14, 38), seconds=R.randrange(60))
        risks.append(risk_detection(g, user=u, event="leakedCredentials", level="high", timing="offline",
                                    activity="user", detected=det, act_time=det - timedelta(minutes=R.randrange(1, 9))))
    # ordinary directory noise during the month
    hr_sync = {"appId": None, "name": "Microsoft Entra Connect", "spid": g.guid(), "spn": None}
    admin_u = dict(users[4], ip=OFFICE)  # the senior consultant administers the tenant
    noise = [
        audit(g, t=dt("2024-04-29T14:12:40Z"), activity="Update user", category="UserManagement", op_type="Update",
              by_app=hr_sync, targets=[tgt_user(users[9], [mod("JobTitle", "[\"Security Analyst I\"]",
                                                             "[\"Security Analyst II\"]"),
                                                         mod("Included Updated Properties", None, "\"JobTitle\"")])],
              details=[{"key": "UserType", "value": "Member"}]),
        audit(g, t=dt("2024-05-07T19:03:11Z"), activity="Add member to group", category="GroupManagement",
              op_type="Assign", by_user=admin_u,
              targets=[tgt_user(users[17]), tgt_group(g.guid(), "SOC-Tier2",
                                                      [mod("Group.DisplayName", None, "\"SOC-Tier2\"")])]),
        audit(g, t=dt("2024-05-14T13:47:55Z"), activity="Update user", category="UserManagement", op_type="Update",
              by_app=hr_sync, targets=[tgt_user(users[12], [mod("Department", "[\"Cyber Defence\"]",
                                                              "[\"Security Operations\"]"),
                                                          mod("Included Updated Properties", None,
                                                              "\"Department\"")])],
              details=[{"key": "UserType", "value": "Member"}]),
        audit(g, t=dt("2024-05-21T16:20:02Z"), activity="Add app role assignment grant to user",
              category="ApplicationManagement", op_type="Assign", by_user=admin_u,
              targets=[tgt_user(users[18])]),
    ]
    audits_rec += noise
    # after the revocation: refresh tokens fail with 50173, people re-authenticate with MFA
    for u in [oncall, users[2], users[7], users[11], gm, users[14]]:
        rv = revoked_at[u["upn"]]
        issued = rv - timedelta(days=R.randrange(1, 6), hours=R.randrange(24), seconds=R.randrange(3600))
        ip = VPN
        base_t = dt("2024-05-25T12:00:00Z") + timedelta(minutes=R.randrange(0, 300), seconds=R.randrange(60))
        if u is gm:
            base_t = dt("2024-05-25T15:10:00Z") + timedelta(seconds=R.randrange(600))
        base_t = base_t.replace(microsecond=R.randrange(10**6))
        dev = devices[u["upn"]]
        fv = {"issued": issued.strftime("%Y-%m-%dT%H:%M:%S.") + "%07d" % R.randrange(10**7) + "Z",
              "valid_from": rv.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")}
        sign.append(signin(g, t=base_t, user=u, app="Teams", res="Teams", ip=ip, where=ATL, asn=ASN_VPN,
                           client="Mobile Apps and Desktop clients",
                           ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                              "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 Teams/24102.2223.2870.9480/49",
                           device=dict(dev, browser="Rich Client 4.61.0.0"), err=50173, auth="refresh",
                           interactive=False, token_in="refreshToken", ca_status="notApplied", ca=[], net=NET[ip],
                           tenant=TENANT, failure_vars=fv, frac=base_t.microsecond * 10 + R.randrange(10)))
        t2 = base_t + timedelta(seconds=R.randrange(20, 200))
        v = edge_version(t2)
        ca = [ca_entry(CA, "success")] + ([ca_entry(CA_GA, "success")] if u is gm else [])
        sign.append(signin(g, t=t2, user=u, app="OfficeHome", res="OfficeHome", ip=ip, where=ATL, asn=ASN_VPN,
                           client="Browser", ua=UA_EDGE.format(v=v), device=dict(dev, browser="Edge %d.0.0" % v),
                           auth="pwd_push", token_in="none", ca=ca, net=NET[ip],
                           mfa={"authMethod": "Mobile app notification", "authDetail": None}, tenant=TENANT,
                           frac=t2.microsecond * 10 + R.randrange(10)))
    # the on-call analyst works the 19 alerts in Sentinel from the VPN
    t3 = datetime(2024, 5, 25, 13, 4, 22, 518000, tzinfo=UTC)
    sign.append(signin(g, t=t3, user=oncall, app="AzurePortal", res="ARM", ip=VPN, where=ATL, asn=ASN_VPN,
                       client="Browser", ua=UA_EDGE.format(v=125), device=dict(devices[oncall["upn"]],
                                                                            browser="Edge 125.0.0"),
                       ca=[ca_entry(CA, "success")], net=NET[VPN],
                       mfa={"authMethod": "Previously satisfied", "authDetail": None}, tenant=TENANT,
                       frac=5180000 + R.randrange(10000)))

    sign.sort(key=lambda s: (s["t"], s["frac"]))
    lines = [jdump(diag_signin(s)) for s in sign]
    write(f"{base}/entra/signinlogs_eventhub_2024-04-26_2024-05-25.json", "\n".join(lines) + "\n", out)

    audits_rec.sort(key=lambda a: a["activityDateTime"])
    recs = [diag_audit(a, TENANT, "") for a in audits_rec]
    for r in recs:
        ini = r["properties"]["initiatedBy"]
        if "user" in ini:
            r["callerIpAddress"] = ini["user"].get("ipAddress") or OFFICE
    # Event Hub messages: the month's noise in one batch, the weekend's revocations in two
    batches = [[r for r in recs if r["time"] < "2024-05-25"],
               [r for r in recs if r["time"] >= "2024-05-25"][:20],
               [r for r in recs if r["time"] >= "2024-05-25"][20:]]
    write(f"{base}/entra/auditlogs_eventhub_2024-04-26_2024-05-25.json",
          "".join(jdump({"records": b}) + "\n" for b in batches), out)

    risks.sort(key=lambda r: r["detectedDateTime"], reverse=True)
    write(f"{base}/entra/riskDetections_graph.json",
          graph_page("https://graph.microsoft.com/v1.0/$metadata#identityProtection/riskDetections", risks), out)

    first_det = min(r["detectedDateTime"] for r in risks)
    last_det = max(r["detectedDateTime"] for r in risks)
    write(f"{base}.case.toml", CASE_FP.format(
        users=",\n    ".join('"%s"' % u["upn"] for u in users),
        ids=", ".join('"%d"' % (48210 + i) for i in range(19)), time=first_det[:19] + "Z"), out)
    facts = {"signins": len(sign), "audit_records": len(recs), "batches": len(batches), "risks": len(risks),
             "first_det": first_det, "last_det": last_det, "reauth_users": 6,
             "revoke_first": t_graph(min(revoked_at.values())), "revoke_last": t_graph(max(revoked_at.values())),
             "people": "\n".join("| %s | %s | %s |" % (u["upn"], u["title"], "Global Administrator" if u is gm else "")
                                 for u in users)}
    write(f"{base}.md", SCENARIO_FP.format(**facts), out)
    return facts


CASE_FP = """\
# irpack case file — scenario "19 leaked-credential alerts over a long weekend" (generated by
# samples/scenarios/generate.py; edit the generator, not this file).
case_id = "IR-2024-0525-ADATUM-LEAKED19"
organisation = "Adatum Corporation (internal SOC)"
examiner = "Sam Okoro, SOC on call"
aware_at = "2024-05-25T13:00:00Z"

[alert]
type = "leakedCredentials"
ids = [{ids}]
time = "{time}"
users = [
    {users}
]
title = "Leaked credentials involving one user (x19)"
window_start = "2024-05-25T00:00:00Z"
window_end = "2024-05-26T00:00:00Z"

[network]
corporate_egress = ["203.0.113.48/29"]
vpn_ranges = ["198.51.100.32/28", "10.99.0.0/16"]

[privileged]
users = ["naomi.chen@adatum.com"]
roles = ["Global Administrator"]
"""

SCENARIO_FP = """\
# Scenario: 19 leaked-credential alerts over a long weekend — automated revocation (Adatum SOC)

Generated by `samples/scenarios/generate.py` (fixed seed); names, ids and addresses are invented.
Based on the SOC write-up in `shared/seeds` (P1 "Leaked credential involving one user" ×19 on a Saturday).

## What happened
Saturday 2024-05-25 (US Memorial Day weekend). Between {revoke_first} and {revoke_last} every one of the
19 internal SOC accounts (analysts, two team leads, the senior consultant, the head of security and the
general manager) gets two directory events from Microsoft services, no person involved:
`Update StsRefreshTokenValidFrom Timestamp` initiated by the app **Azure AD Identity Protection** and
`Update user` (modifiedProperties `StsRefreshTokenValidFrom`) initiated by **Microsoft Substrate
Management**, same correlation id — an automated credential/session revocation. 14–38 minutes later
Identity Protection raises an **offline `leakedCredentials`** detection (riskLevel high, atRisk, no
IP/location) for each of them ({first_det} … {last_det}); Sentinel turns them into 19 incidents.

The sign-in logs (30 days, 2024-04-26 → 2024-05-25) show nothing anomalous for any of the 19: only
the Atlanta office (203.0.113.50, trusted named location) and the VPN egress (198.51.100.40), joined
compliant devices, MFA satisfied (push or PRT claim). After the revocation, {reauth_users} users' Teams refresh
tokens fail with **50173** (grant revoked) from the VPN and they re-authenticate with MFA from the VPN
a few minutes later — the expected side effect of a revocation, not an attack. The on-call analyst
signs in to the Security portal at 13:04Z. No password change, no MFA change, no inbox rule, no new
IP/country/device.

## Expected verdict
**False Positive** (automated credential revocation by Microsoft services; no anomalous sign-in for
any of the 19 users; no post-sign-in activity). Because naomi.chen@adatum.com is a **Global
Administrator** (case file `[privileged]`), the report must still flag **escalation** for her
(RB-0003 step 6: privileged user → escalate regardless), and recommend a precautionary password reset.
No regulatory clock (no data assets in scope, no compromise).

| user | role | privileged |
|---|---|---|
{people}

## Files
| file | what | records |
|---|---|---|
| `entra/signinlogs_eventhub_2024-04-26_2024-05-25.json` | diagnostic-settings JSON lines, categories SignInLogs and NonInteractiveUserSignInLogs, oldest first | {signins} |
| `entra/auditlogs_eventhub_2024-04-26_2024-05-25.json` | diagnostic-settings AuditLogs as Event Hub messages: one `{{"records":[…]}}` object per line | {audit_records} records in {batches} messages |
| `entra/riskDetections_graph.json` | Graph v1.0 `identityProtection/riskDetections` | {risks} |
"""


# --------------------------------------------------------------------------------------------
# Scenario 3: leaked credential, not yet used, MFA not enforced, legacy IMAP (Fabrikam, HIPAA)
# --------------------------------------------------------------------------------------------

def scenario_leak(out):
    g = Gen(20220914)
    R = g.r
    TENANT = "9a0c6e21-4b8d-4f37-a1e5-6d2c8b7f3a90"
    base = "scenario-leak-exposed"
    den = ZoneInfo("America/Denver")
    DENVER = loc("Denver", "Colorado", "US", 39.7392, -104.9903)
    OFFICE = "192.0.2.44"
    ASN = 209
    priya = mkuser(g, "priya.sharma@fabrikam.example", "Priya Sharma")
    others = [mkuser(g, "marcus.lee@fabrikam.example", "Marcus Lee"),
              mkuser(g, "jenna.ortiz@fabrikam.example", "Jenna Ortiz")]
    admin = mkuser(g, "it.ops@fabrikam.example", "Fabrikam IT Operations", ip=OFFICE)
    ws = {"id": g.guid(), "name": "FAB-CLIN-WS12", "os": "Windows10", "browser": "Chrome 105.0.0",
          "compliant": False, "managed": True, "trust": "Hybrid Azure AD joined"}
    imap_dev = {"id": "", "os": "", "browser": ""}
    sign = []
    day0 = datetime(2022, 8, 15, tzinfo=den)
    for n in range(33):  # 2022-08-15 .. 2022-09-16
        day = day0 + timedelta(days=n)
        if day.weekday() >= 5:
            continue
        t = day.replace(hour=R.choice([7, 7, 8]), minute=R.randrange(60), second=R.randrange(60),
                        microsecond=R.randrange(10**6)).astimezone(UTC)
        if n == 11:
            typo_day = day.strftime("%Y-%m-%d")
            sign.append(signin(g, t=t - timedelta(seconds=37), user=priya, app="OfficeHome", res="OfficeHome",
                               ip=OFFICE, where=DENVER, asn=ASN, client="Browser", ua=UA_CHROME.format(v=104),
                               device=dict(ws, browser="Chrome 104.0.0"), err=50126, auth="pwd", token_in="none",
                               requirement="singleFactorAuthentication", ca_status="notApplied", tenant=TENANT))
        ver = 104 if t < dt("2022-09-01T00:00:00Z") else 105
        sign.append(signin(g, t=t, user=priya, app="OfficeHome", res="OfficeHome", ip=OFFICE, where=DENVER, asn=ASN,
                           client="Browser", ua=UA_CHROME.format(v=ver), device=dict(ws, browser="Chrome %d.0.0" % ver),
                           auth="pwd", token_in="none", requirement="singleFactorAuthentication",
                           ca_status="notApplied", tenant=TENANT))
        # the clinic's legacy mail client (IMAP, basic auth -> ROPC, user agent BAV2ROPC)
        t2 = day.replace(hour=R.choice([9, 11, 13, 15]), minute=R.randrange(60), second=R.randrange(60),
                         microsecond=R.randrange(10**6)).astimezone(UTC)
        sign.append(signin(g, t=t2, user=priya, app="EXO", res="EXO", ip=OFFICE, where=DENVER, asn=ASN,
                           client="IMAP4", ua="BAV2ROPC", device=imap_dev, auth="pwd", token_in="none",
                           proto="ropc", requirement="singleFactorAuthentication", ca_status="notApplied",
                           tenant=TENANT))
    sign.sort(key=lambda s: s["t"])
    rows = [SENTINEL_HEADER] + [sentinel_row(s) for s in sign]
    write(f"{base}/sentinel/SigninLogs_priya.sharma_2022-08-15_2022-09-16.csv", "\ufeff" + csv_text(rows), out)

    detected = dt("2022-09-14T05:31:08Z")
    risks = [
        risk_detection(g, user=priya, event="leakedCredentials", level="high", timing="offline", activity="user",
                       detected=detected, act_time=detected),
        risk_detection(g, user=others[0], event="unfamiliarFeatures", level="low", timing="realtime",
                       activity="signin", detected=dt("2022-08-22T16:04:51Z"),
                       act_time=dt("2022-08-22T16:04:49Z"), state="remediated",
                       detail="userPerformedSecuredPasswordChange", ip="198.51.100.71",
                       where=loc("Boulder", "Colorado", "US", 40.015, -105.2705), request_id=g.request_id(),
                       corr=g.guid(), last=dt("2022-08-23T14:10:32Z"),
                       info="[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0 (iPhone; CPU iPhone OS 15_6 like Mac OS X) "
                            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.6 Mobile/15E148 Safari/604.1\"}]"),
    ]
    risks.sort(key=lambda r: r["detectedDateTime"], reverse=True)
    write(f"{base}/entra/riskDetections_graph.json",
          graph_page("https://graph.microsoft.com/v1.0/$metadata#identityProtection/riskDetections", risks), out)

    audits = [
        audit(g, t=dt("2022-08-23T14:10:31Z"), activity="Change user password", category="UserManagement",
              op_type="Update", by_user=dict(others[0], ip="198.51.100.71"), service="Core Directory",
              targets=[tgt_user(others[0])]),
        audit(g, t=dt("2022-08-30T15:22:09Z"), activity="Update user", category="UserManagement", op_type="Update",
              by_user=admin, targets=[tgt_user(priya, [mod("Department", "[\"Cardiology\"]",
                                                           "[\"Cardiology - Billing\"]"),
                                                       mod("Included Updated Properties", None, "\"Department\"")])],
              details=[{"key": "UserType", "value": "Member"}]),
        audit(g, t=dt("2022-09-15T16:48:40Z"), activity="Reset password (self-service)", category="UserManagement",
              op_type="Update", by_user=dict(others[1], ip=OFFICE), service="Self-service Password Management",
              targets=[tgt_user(others[1])], aid="SSPR_%s" % g.guid()),
        audit(g, t=dt("2022-09-15T16:48:41Z"), activity="Reset user password", category="UserManagement",
              op_type="Update", by_user=dict(others[1], ip=OFFICE), targets=[tgt_user(others[1])]),
    ]
    audits.sort(key=lambda a: a["activityDateTime"], reverse=True)
    write(f"{base}/entra/directoryAudits_graph.json",
          graph_page("https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", audits), out)
    write(f"{base}.case.toml", CASE_LEAK, out)
    facts = {"signins": len(sign), "imap": sum(1 for s in sign if s["client"] == "IMAP4"), "typo_day": typo_day,
             "risks": len(risks), "audits": len(audits), "detected": t_graph(detected)}
    write(f"{base}.md", SCENARIO_LEAK.format(**facts), out)
    return facts


CASE_LEAK = """\
# irpack case file — scenario "leaked credential, exposed, not used yet" (generated by
# samples/scenarios/generate.py; edit the generator, not this file).
case_id = "IR-2022-0914-FABRIKAM-LEAK"
organisation = "Fabrikam Health Partners (HIPAA covered entity)"
examiner = "Fabrikam IT Security"
aware_at = "2022-09-14T13:05:00Z"

[alert]
type = "leakedCredentials"
time = "2022-09-14T05:31:08Z"
users = ["priya.sharma@fabrikam.example"]
title = "Leaked credentials"
window_start = "2022-09-14T00:00:00Z"
window_end = "2022-09-17T00:00:00Z"

[network]
corporate_egress = ["192.0.2.32/28"]

[[data.assets]]
kind = "user"
id = "priya.sharma@fabrikam.example"
categories = ["phi"]

[[data.assets]]
kind = "mailbox"
id = "priya.sharma@fabrikam.example"
categories = ["phi"]
"""

SCENARIO_LEAK = """\
# Scenario: leaked credential, exposed but not (yet) used — Fabrikam Health Partners

Generated by `samples/scenarios/generate.py` (fixed seed); names, ids and addresses are invented.

## What happened
Priya Sharma (priya.sharma@fabrikam.example, Cardiology billing, Denver clinic) gets an Identity
Protection **`leakedCredentials`** detection — offline, activity `user`, riskLevel high, riskState
atRisk, no IP — detected **{detected}**. The tenant has no Conditional Access policy for her: every
sign-in is **single-factor** (`authenticationRequirement` singleFactorAuthentication,
`ConditionalAccessStatus` notApplied) and the clinic workstation's mail client still uses **IMAP4 with
basic auth** (`ClientAppUsed` IMAP4, user agent `BAV2ROPC`, `AuthenticationProtocol` ropc) — legacy
authentication that would bypass MFA even if it were enforced. (The dates are September 2022, before
Exchange Online turned basic auth off for IMAP.)

Sign-ins 2022-08-15 → 2022-09-16 (Sentinel export): only the clinic's egress 192.0.2.44 (Denver,
AS209), the same workstation FAB-CLIN-WS12, one mistyped password (50126) on {typo_day}. After the
detection: the same pattern, no new IP, country, device or failures — no evidence the credential was
used. The directory audit has **no password change or reset for priya** after the detection (only a
department change on 08-30 by IT, and password changes of *other* users: marcus.lee on 08-23,
jenna.ortiz on 09-15). The risk export also holds an older, remediated `unfamiliarFeatures` detection of
marcus.lee.

## Expected verdict
**True Positive — Credential Exposed**: leaked credential confirmed, password not changed, no
anomalous sign-in yet; MFA not enforced and legacy auth in use (RB-0003 step 6: CRITICAL → force
password reset, enforce MFA, block legacy auth). **HIPAA** flag: the user and her mailbox hold PHI
(case file `[[data.assets]]` phi); no evidence of PHI access so far, so the breach question stays open
(cannot determine) and the 60-day clock would run from aware_at 2022-09-14T13:05Z if a breach is found.

## Files
| file | what | records |
|---|---|---|
| `sentinel/SigninLogs_priya.sharma_2022-08-15_2022-09-16.csv` | Log Analytics CSV export of `SigninLogs` (all columns), UTF-8 BOM, CRLF, locale `TimeGenerated [UTC]` | {signins} rows ({imap} IMAP4) |
| `entra/riskDetections_graph.json` | Graph v1.0 `identityProtection/riskDetections` | {risks} |
| `entra/directoryAudits_graph.json` | Graph v1.0 `auditLogs/directoryAudits` | {audits} |
"""


# --------------------------------------------------------------------------------------------
# Scenario 4: apparent impossible travel explained by a trip on record and the corporate VPN
# --------------------------------------------------------------------------------------------

NPS_COLUMNS = [
    "ComputerName", "ServiceName", "Record-Date", "Record-Time", "Packet-Type", "User-Name",
    "Fully-Qualified-Distinguished-Name", "Called-Station-ID", "Calling-Station-ID", "Callback-Number",
    "Framed-IP-Address", "NAS-Identifier", "NAS-IP-Address", "NAS-Port", "Client-Vendor", "Client-IP-Address",
    "Client-Friendly-Name", "Event-Timestamp", "Port-Limit", "NAS-Port-Type", "Connect-Info", "Framed-Protocol",
    "Service-Type", "Authentication-Type", "Policy-Name", "Reason-Code", "Class", "Session-Timeout", "Idle-Timeout",
    "Termination-Action", "EAP-Friendly-Name", "Acct-Status-Type", "Acct-Delay-Time", "Acct-Input-Octets",
    "Acct-Output-Octets", "Acct-Session-Id", "Acct-Authentic", "Acct-Session-Time", "Acct-Input-Packets",
    "Acct-Output-Packets", "Acct-Terminate-Cause", "Acct-Multi-Ssn-ID", "Acct-Link-Count", "Acct-Interim-Interval",
    "Tunnel-Type", "Tunnel-Medium-Type", "Tunnel-Client-Endpt", "Tunnel-Server-Endpt", "Acct-Tunnel-Conn",
    "Tunnel-Pvt-Group-ID", "Tunnel-Assignment-ID", "Tunnel-Preference", "MS-Acct-Auth-Type", "MS-Acct-EAP-Type",
    "MS-RAS-Version", "MS-RAS-Vendor", "MS-CHAP-Error", "MS-CHAP-Domain", "MS-MPPE-Encryption-Types",
    "MS-MPPE-Encryption-Policy", "Proxy-Policy-Name", "Provider-Type", "Provider-Name", "Remote-Server-Address",
    "MS-RAS-Client-Name", "MS-RAS-Client-Version"]
NPS_STRINGS = {"ComputerName", "ServiceName", "User-Name", "Fully-Qualified-Distinguished-Name", "Called-Station-ID",
               "Calling-Station-ID", "Callback-Number", "Framed-IP-Address", "NAS-Identifier", "NAS-IP-Address",
               "Client-IP-Address", "Client-Friendly-Name", "Connect-Info", "Policy-Name", "Class",
               "EAP-Friendly-Name", "Acct-Session-Id", "Acct-Multi-Ssn-ID", "Tunnel-Client-Endpt",
               "Tunnel-Server-Endpt", "Acct-Tunnel-Conn", "Tunnel-Pvt-Group-ID", "Tunnel-Assignment-ID",
               "MS-RAS-Version", "MS-CHAP-Error", "MS-CHAP-Domain", "Proxy-Policy-Name", "Provider-Name",
               "Remote-Server-Address", "MS-RAS-Client-Name", "MS-RAS-Client-Version"}


def nps_line(values):
    out_ = []
    for col in NPS_COLUMNS:
        v = values.get(col)
        if v is None or v == "":
            out_.append("")
        elif col in NPS_STRINGS:
            out_.append('"%s"' % v)
        else:
            out_.append(str(v))
    return ",".join(out_)


def scenario_vpn(out):
    g = Gen(20240916)
    R = g.r
    TENANT = "6c2f8a15-0e7b-4d93-b4a1-58e3d9c27f06"
    base = "scenario-vpn-travel"
    chi, ams, lis = ZoneInfo("America/Chicago"), ZoneInfo("Europe/Amsterdam"), ZoneInfo("Europe/Lisbon")
    CHICAGO = loc("Chicago", "Illinois", "US", 41.8781, -87.6298)
    LISBON = loc("Lisbon", "Lisboa", "PT", 38.7223, -9.1393)
    AMSTERDAM = loc("Amsterdam", "Noord-Holland", "NL", 52.3676, 4.9041)
    BERLIN = loc("Berlin", "Berlin", "DE", 52.52, 13.405)
    OFFICE, HOME, HOTEL, VPN_EGRESS = "203.0.113.81", "198.51.100.77", "192.0.2.57", "192.0.2.200"
    ASN = {OFFICE: 3356, HOME: 7922, HOTEL: 3243, VPN_EGRESS: 1136}
    sofia = mkuser(g, "sofia.martins@northwindtraders.com", "Sofia Martins")
    jan = mkuser(g, "jan.devries@northwindtraders.com", "Jan de Vries")
    lena = mkuser(g, "lena.vogel@northwindtraders.com", "Lena Vogel")
    laptop = win_device(g, "NW-LT-0217", "Edge", "Azure AD joined")
    CA = {"id": g.guid(), "name": "NW-CA01: Require MFA outside trusted locations", "grant": ["Mfa"]}
    NETS = {OFFICE: [{"networkType": "trustedNamedLocation", "networkNames": ["Northwind Chicago HQ"]}],
            VPN_EGRESS: [{"networkType": "trustedNamedLocation", "networkNames": ["Northwind VPN EU (AMS)"]}]}

    def s_sign(t, ip, where, app="OfficeHome", res="OfficeHome", push=False):
        v = 128  # Edge 128 was current from 2024-08-22; Sofia's laptop auto-updated before the window
        trusted = ip in NETS
        if trusted:
            return signin(g, t=t, user=sofia, app=app, res=res, ip=ip, where=where, asn=ASN[ip], client="Browser",
                          ua=UA_EDGE.format(v=v), device=dict(laptop, browser="Edge %d.0.0" % v), auth="prt",
                          requirement="singleFactorAuthentication", ca_status="notApplied",
                          ca=[ca_entry(CA, "notApplied")], net=NETS[ip], tenant=TENANT)
        return signin(g, t=t, user=sofia, app=app, res=res, ip=ip, where=where, asn=ASN[ip], client="Browser",
                      ua=UA_EDGE.format(v=v), device=dict(laptop, browser="Edge %d.0.0" % v),
                      auth="pwd_push" if push else "prt_mfa", token_in="none" if push else "primaryRefreshToken",
                      ca=[ca_entry(CA, "success")], tenant=TENANT,
                      mfa={"authMethod": "Mobile app notification" if push else "Previously satisfied",
                           "authDetail": None})

    sign = []
    day0 = datetime(2024, 8, 19, tzinfo=chi)
    for n in range(26):  # 2024-08-19 .. 2024-09-13 (Chicago)
        day = day0 + timedelta(days=n)
        if day.weekday() >= 5:
            continue
        ip = HOME if day.weekday() == 4 else OFFICE
        t = day.replace(hour=R.choice([7, 8, 8, 9]), minute=R.randrange(60), second=R.randrange(60)).astimezone(UTC)
        sign.append(s_sign(t, ip, CHICAGO))
        if R.random() < 0.5:
            sign.append(s_sign(t + timedelta(minutes=R.randrange(5, 90), seconds=R.randrange(60)), ip, CHICAGO,
                               app="OWA", res="EXO"))
    sign.append(s_sign(dt("2024-09-14T15:02:37Z"), HOME, CHICAGO, app="OWA", res="EXO"))  # Sat morning, before the flight
    # Lisbon: Sun evening from the hotel (direct), Mon/Tue mornings direct then through the VPN (AMS egress)
    s_lis = s_sign(dt("2024-09-15T19:41:12Z"), HOTEL, LISBON, app="OWA", res="EXO", push=True)
    sign.append(s_lis)
    gp_sessions = []
    alert_pair = None
    for d, (direct, vpn_up, vpn_down) in enumerate([
            ("2024-09-16T07:52:18Z", "2024-09-16T08:14:40Z", "2024-09-16T17:48:05Z"),
            ("2024-09-17T07:31:44Z", "2024-09-17T07:58:09Z", "2024-09-17T16:22:51Z")]):
        s1 = s_sign(dt(direct), HOTEL, LISBON, push=(d == 0))
        sign.append(s1)
        up = dt(vpn_up)
        s2 = s_sign(up + timedelta(minutes=3, seconds=R.randrange(60)), VPN_EGRESS, AMSTERDAM, app="OWA", res="EXO")
        sign.append(s2)
        s3 = s_sign(up + timedelta(hours=R.randrange(2, 6), minutes=R.randrange(60), seconds=R.randrange(60)),
                    VPN_EGRESS, AMSTERDAM, app="OfficeHome", res="SPO")
        sign.append(s3)
        if d == 0:
            alert_pair = (s1, s2)
        gp_sessions.append((up, dt(vpn_down)))
    sign.sort(key=lambda s: s["t"], reverse=True)
    rows = [PORTAL_HEADER] + [portal_row(s) for s in sign]
    write(f"{base}/entra/InteractiveSignIns_2024-08-19_2024-09-18.csv", "\ufeff" + csv_text(rows, quote_all=True), out)

    # ---- PAN-OS GlobalProtect (gateway in Amsterdam, device local time Europe/Amsterdam) ----
    SERIAL, HOST = "016201012345", "PA-AMS-GW01"
    seq = [7340012345]
    gp = []

    def gp_log(t, event, stage, auth, tunnel, user, region, machine, pub, priv, hostid, epserial, status,
               desc="", reason="", error="", duration=0, connect="user-logon", portal="GP-GW-AMS", err_code=0,
               sel="", resp=0, prio="", gw=""):
        lt = t.astimezone(ams)
        recv = lt + timedelta(seconds=R.choice([0, 0, 1]))
        fields = ["1", recv.strftime("%Y/%m/%d %H:%M:%S"), SERIAL, "GLOBALPROTECT", "0", "2561",
                  lt.strftime("%Y/%m/%d %H:%M:%S"), "vsys1", event, stage, auth, tunnel, user, region, machine, pub,
                  "0.0.0.0", priv, "0.0.0.0", hostid, epserial, "6.2.4", "Microsoft",
                  "Microsoft Windows 11 Enterprise , 64-bit", "1", reason, error, desc, status, "", str(duration),
                  connect, str(err_code), portal, None, "0x8000000000000000",
                  lt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % R.randrange(1000) + lt.strftime("%z")[:3] + ":" +
                  lt.strftime("%z")[3:], sel, str(resp), prio, "", gw]
        header = recv.strftime("%b ") + ("%2d" % recv.day) + recv.strftime(" %H:%M:%S ") + HOST + " "
        gp.append((recv, header, fields))
        return lt

    def gp_connect(user, machine, pub, region, priv, up, down, hostid, epserial, fail_first=False, portal_tz=None):
        t = up - timedelta(seconds=48)
        gp_log(t, "portal-prelogin", "before-login", "", "", "", region, "", pub, "0.0.0.0", hostid, epserial,
               "success", portal="GP-Portal-EU")
        t += timedelta(seconds=6)
        auths = []
        if fail_first:
            gp_log(t, "portal-auth", "login", "RADIUS", "", user, region, machine, pub, "0.0.0.0", hostid, epserial,
                   "failure", desc="Authentication failed: Invalid username or password", error="Authentication failed",
                   err_code=1, portal="GP-Portal-EU")
            auths.append(("reject", t))
            t += timedelta(seconds=19)
        gp_log(t, "portal-auth", "login", "RADIUS", "", user, region, machine, pub, "0.0.0.0", hostid, epserial,
               "success", portal="GP-Portal-EU")
        auths.append(("accept", t))
        t += timedelta(seconds=2)
        gp_log(t, "portal-getconfig", "configuration", "", "", user, region, machine, pub, "0.0.0.0", hostid,
               epserial, "success", desc="Config name: GP-Clients-EU, Machine Certificate CN : (null)",
               portal="GP-Portal-EU")
        t += timedelta(seconds=3)
        gp_log(t, "gateway-auth", "login", "", "", user, region, machine, pub, "0.0.0.0", hostid, epserial,
               "success")
        t += timedelta(seconds=2)
        gp_log(t, "gateway-getconfig", "configuration", "", "", user, region, machine, pub, priv, hostid, epserial,
               "success", desc="Config name: GP-GW-AMS-Clients, Client region: %s." % region)
        t = up
        gp_log(t, "gateway-setup-ipsec", "tunnel", "", "IPSec", user, region, machine, pub, priv, hostid, epserial,
               "success")
        gp_log(t + timedelta(seconds=1), "gateway-tunnel-latency", "tunnel", "", "", user, region, machine, pub, priv,
               hostid, epserial, "success", desc="Pre-tunnel latency: %dms, Post-tunnel latency: %dms" %
               (R.randrange(30, 60), R.randrange(20, 40)))
        gp_log(t + timedelta(seconds=2), "gateway-connected", "connected", "", "IPSec", user, region, machine, pub,
               priv, hostid, epserial, "success", sel="automatic", resp=R.randrange(25, 70), prio="Highest",
               gw="GP-GW-AMS")
        gp_log(t + timedelta(seconds=9), "gateway-hip-report", "host-info", "", "", user, region, machine, pub, priv,
               hostid, epserial, "success", desc="HIP report is received")
        if down is not None:
            gp_log(down, "gateway-logout", "logout", "", "IPSec", user, region, machine, pub, priv, hostid, epserial,
                   "success", reason="client logout", duration=int((down - up).total_seconds()))
        return auths

    s_host, s_serial = g.guid(), "PF3K9XQZ"
    radius_auths = []
    for i, (up, down) in enumerate(gp_sessions):
        radius_auths.append(("sofia.martins", HOTEL, gp_connect(
            "northwind\\sofia.martins", "NW-LT-0217", HOTEL, "PT", "10.60.12.%d" % (34 + i), up, down, s_host,
            s_serial, fail_first=(i == 0))))
    # colleagues on the same gateway (NL, DE home connections)
    radius_auths.append(("jan.devries", "192.0.2.91", gp_connect(
        "northwind\\jan.devries", "NW-LT-0101", "192.0.2.91", "NL", "10.60.12.18",
        dt("2024-09-16T06:58:11Z"), dt("2024-09-16T15:31:40Z"), g.guid(), "PF2R7MTA")))
    radius_auths.append(("lena.vogel", "198.51.100.149", gp_connect(
        "northwind\\lena.vogel", "NW-LT-0188", "198.51.100.149", "DE", "10.60.12.41",
        dt("2024-09-17T06:40:27Z"), None, g.guid(), "PF3B0LWE")))
    gp.sort(key=lambda x: x[0])
    gp_lines = []
    for _, header, fields in gp:
        seq[0] += R.randrange(1, 40)
        fields[34] = str(seq[0])
        gp_lines.append(header + csv_text([fields], lineterminator="").strip())
    write(f"{base}/panos/PA-AMS-GW01_globalprotect_2024-09-16_2024-09-17.log",
          "".join(line + "\n" for line in gp_lines), out)

    # ---- NPS (Chicago, local time America/Chicago), database-compatible format ----
    nps = []
    NPS, NPS_IP = "NW-NPS01", "10.40.0.20"
    counter = [R.randrange(100, 900)]

    def nps_rec(t, ptype, user, fqdn, calling, nas_id, nas_ip, client_ip, client_name, reason=0, port_type=5,
                policy="GlobalProtect VPN - Remote Staff", proxy="Use Windows authentication for all users",
                auth_type=1, extra=None):
        lt = t.astimezone(chi)
        v = {"ComputerName": NPS, "ServiceName": "IAS", "Record-Date": lt.strftime("%m/%d/%Y"),
             "Record-Time": lt.strftime("%H:%M:%S"), "Packet-Type": ptype, "User-Name": user,
             "Fully-Qualified-Distinguished-Name": fqdn, "Calling-Station-ID": calling, "NAS-Identifier": nas_id,
             "NAS-IP-Address": nas_ip, "Client-Vendor": 0, "Client-IP-Address": client_ip,
             "Client-Friendly-Name": client_name, "NAS-Port-Type": port_type, "Authentication-Type": auth_type,
             "Policy-Name": policy, "Reason-Code": reason, "Proxy-Policy-Name": proxy, "Provider-Type": 1}
        if ptype == 2:
            v["Class"] = "311 1 %s %s %s {n}" % (NPS_IP, lt.strftime("%m/%d/%Y"), lt.strftime("%H:%M:%S"))
            v["Service-Type"] = 2
        if extra:
            v.update(extra)
        nps.append((t, v))

    def gp_radius(user_short, calling, auths):
        """NPS sees the Access-Request when GlobalProtect forwards the portal login; the NPS extension
        for Entra MFA holds the answer until the push is approved, so the Accept lands 9-20 s later,
        right before PAN-OS logs portal-auth success. A wrong password is rejected at once (16)."""
        fq = "northwindtraders.com/Users/Remote Staff/%s" % user_short
        for kind, t_gp in auths:
            t_gp = t_gp.astimezone(UTC)
            if kind == "reject":
                nps_rec(t_gp - timedelta(seconds=1), 1, user_short, fq, calling, "PA-AMS-GW01", "10.50.0.1",
                        "10.50.0.1", "PA-AMS-GW01", policy="")
                nps_rec(t_gp, 3, user_short, fq, calling, "PA-AMS-GW01", "10.50.0.1", "10.50.0.1", "PA-AMS-GW01",
                        reason=16)
            else:
                nps_rec(t_gp - timedelta(seconds=R.randrange(9, 21)), 1, user_short, fq, calling, "PA-AMS-GW01",
                        "10.50.0.1", "10.50.0.1", "PA-AMS-GW01", policy="")
                nps_rec(t_gp, 2, user_short, fq, calling, "PA-AMS-GW01", "10.50.0.1", "10.50.0.1", "PA-AMS-GW01")

    for user_short, calling, auths in radius_auths:
        gp_radius(user_short, calling, auths)
    # Sofia's last office day before the trip: 802.1X Wi-Fi at Chicago HQ (Aruba controller), with accounting
    wlc = ("NW-CHI-WLC01", "10.41.0.5")
    w_start = datetime(2024, 9, 13, 8, 47, 5, tzinfo=chi).astimezone(UTC)
    w_stop = datetime(2024, 9, 13, 16, 58, 31, tzinfo=chi).astimezone(UTC)
    sid = "%s%s" % (g.hexs(8).upper(), g.hexs(8).upper())
    mac = "F4-26-79-%02X-%02X-%02X" % (R.randrange(256), R.randrange(256), R.randrange(256))
    wifi = dict(policy="Corp Wi-Fi 802.1X (PEAP)", proxy="Use Windows authentication for all users", port_type=19,
                auth_type=11)
    fq = "northwindtraders.com/Users/Chicago/sofia.martins"
    nps_rec(w_start - timedelta(seconds=2), 1, "NORTHWIND\\sofia.martins", fq, mac, wlc[0], wlc[1], wlc[1],
            "Aruba WLC Chicago", extra={"Called-Station-ID": "00-0B-86-9C-41-20:NW-Corp", "EAP-Friendly-Name": ""},
            **dict(wifi, policy=""))
    nps_rec(w_start - timedelta(seconds=1), 2, "NORTHWIND\\sofia.martins", fq, mac, wlc[0], wlc[1], wlc[1],
            "Aruba WLC Chicago", extra={"Called-Station-ID": "00-0B-86-9C-41-20:NW-Corp",
                                        "EAP-Friendly-Name": "Microsoft: Secured password (EAP-MSCHAP v2)",
                                        "Tunnel-Type": 13, "Tunnel-Medium-Type": 6, "Tunnel-Pvt-Group-ID": "120",
                                        "MS-Acct-Auth-Type": None}, **wifi)
    for kind, t in ((1, w_start), (3, w_start + timedelta(hours=4)), (2, w_stop)):
        ex = {"Called-Station-ID": "00-0B-86-9C-41-20:NW-Corp", "Acct-Status-Type": kind, "Acct-Delay-Time": 0,
              "Acct-Session-Id": sid, "Acct-Authentic": 1, "Framed-IP-Address": "10.41.18.77"}
        if kind != 1:
            secs = int((t - w_start).total_seconds())
            ex.update({"Acct-Session-Time": secs, "Acct-Input-Octets": secs * 9_811, "Acct-Output-Octets": secs * 61_203,
                       "Acct-Input-Packets": secs * 14, "Acct-Output-Packets": secs * 47})
        if kind == 2:
            ex["Acct-Terminate-Cause"] = 1
        nps_rec(t, 4, "NORTHWIND\\sofia.martins", fq, mac, wlc[0], wlc[1], wlc[1], "Aruba WLC Chicago",
                extra=ex, **dict(wifi, policy=""))
    nps.sort(key=lambda x: x[0])
    nps_lines = []
    for _, v in nps:
        if "Class" in v and "{n}" in v["Class"]:
            counter[0] += 1
            v["Class"] = v["Class"].replace("{n}", str(counter[0]))
        nps_lines.append(nps_line(v))
    write(f"{base}/nps/IN2409.log", "".join(line + "\r\n" for line in nps_lines), out)

    write(f"{base}.case.toml", CASE_VPN, out)
    s1, s2 = alert_pair
    facts = {"signins": len(sign), "gp": len(gp), "nps": len(nps), "a_t": t_graph(s1["t"]), "a_id": s1["id"],
             "b_t": t_graph(s2["t"]), "b_id": s2["id"],
             "gap": int((s2["t"] - s1["t"]).total_seconds() // 60), "lis_t": t_graph(s_lis["t"])}
    write(f"{base}.md", SCENARIO_VPN.format(**facts), out)
    return facts


CASE_VPN = """\
# irpack case file — scenario "impossible travel explained by a trip and the corporate VPN"
# (generated by samples/scenarios/generate.py; edit the generator, not this file).
case_id = "IR-2024-0916-NORTHWIND-TRAVEL"
organisation = "Northwind Traders"
examiner = "Northwind SOC"
aware_at = "2024-09-16T09:10:00Z"

[alert]
type = "impossibleTravel"
ids = ["da638620918044219713_1201688093"]
time = "2024-09-16T08:58:14Z"
users = ["sofia.martins@northwindtraders.com"]
title = "Impossible travel activity involving one user"
window_start = "2024-09-15T00:00:00Z"
window_end = "2024-09-18T00:00:00Z"

[time_zones]
panos = "Europe/Amsterdam"
nps = "America/Chicago"

[network]
corporate_egress = ["203.0.113.80/29"]
vpn_ranges = ["10.60.0.0/16", "192.0.2.192/27"]

[[travel]]
user = "sofia.martins@northwindtraders.com"
country = "PT"
from = "2024-09-14T18:00:00Z"
to = "2024-09-21T23:59:59Z"
note = "Customer visit, Lisbon (travel request TRV-2024-118); connects through the EU GlobalProtect gateway"
"""

SCENARIO_VPN = """\
# Scenario: apparent impossible travel, explained by a trip on record and the corporate VPN (Northwind)

Generated by `samples/scenarios/generate.py` (fixed seed); names, ids and addresses are invented.

## What happened
Sofia Martins (sofia.martins@northwindtraders.com) works from Chicago (HQ egress 203.0.113.81, home
198.51.100.77 on Fridays) — baseline 2024-08-19 → 2024-09-14. She flies to Lisbon on Saturday
2024-09-14 (trip on record, case file `[[travel]]` PT 09-14 → 09-21). Sunday {lis_t} she reads mail from the
hotel (192.0.2.57, Lisbon PT, AS3243) with an MFA push.

Monday: **{a_t}** sign-in from the hotel in Lisbon (id `{a_id}`); at 08:14:40Z her GlobalProtect
client connects to Northwind's EU gateway **PA-AMS-GW01** in Amsterdam (first RADIUS try rejected —
NPS Reason-Code 16 — then accepted); from then on her traffic leaves through the corporate VPN egress
**192.0.2.200 (Amsterdam NL, AS1136)**: **{b_t}** sign-in from Amsterdam (id `{b_id}`), {gap} minutes after
Lisbon, ~1,850 km apart → Defender for Cloud Apps raises "Impossible travel activity" at 08:58:14Z.
Tuesday repeats the pattern (hotel direct, then VPN). The GlobalProtect log shows each tunnel with
Public IP 192.0.2.57 / Source Region PT and private IPs 10.60.12.34-35; NPS shows the RADIUS
authentications from the gateway with Calling-Station-ID 192.0.2.57 and, on Friday 09-13, her 802.1X
Wi-Fi session (accounting Start/Interim/Stop) at the Chicago office — before she left. Colleagues
(jan.devries from NL, lena.vogel from DE) use the same gateway.

## Expected verdict
**False Positive** — the "travel" is Lisbon (on record, PT, within the trip dates) ↔ the corporate
VPN egress (192.0.2.200 inside `vpn_ranges` 192.0.2.192/27; the PAN-OS and NPS logs show her tunnel from
the Lisbon hotel IP). Same managed device NW-LT-0217 throughout, no failures other than one mistyped VPN
password, no post-sign-in activity. No regulatory clock.

MFA detail: Northwind's policy "NW-CA01: Require MFA outside trusted locations" treats the Chicago HQ
egress and the VPN egress as trusted named locations, so sign-ins from 203.0.113.81 and 192.0.2.200 are
`singleFactorAuthentication` / CA "Not Applied" (by design, explained by `corporate_egress` and
`vpn_ranges`); from home and from the Lisbon hotel they are multi-factor (push or PRT claim).

Time zones on purpose: PAN-OS times are device local **Europe/Amsterdam (CEST, +02:00)**, NPS times are
server local **America/Chicago (CDT, -05:00)**, Entra is UTC. NPS does not carry accounting for the
GlobalProtect tunnel (PAN-OS sends RADIUS authentication only); the tunnel's start and end are in the
GlobalProtect log (gateway-connected / gateway-logout with Login Duration).

## Files
| file | what | records |
|---|---|---|
| `entra/InteractiveSignIns_2024-08-19_2024-09-18.csv` | Entra portal download, UTF-8 BOM, all quoted, CRLF | {signins} rows |
| `panos/PA-AMS-GW01_globalprotect_2024-09-16_2024-09-17.log` | PAN-OS 10.1+ GLOBALPROTECT CSV with BSD syslog header | {gp} lines |
| `nps/IN2409.log` | NPS database-compatible (ODBC) log, no header, CRLF | {nps} lines |
"""


# --------------------------------------------------------------------------------------------

def main():
    check = "--check" in sys.argv[1:]
    out = {}
    facts = {
        "scenario-bec": scenario_bec(out),
        "scenario-fp-revocations": scenario_fp(out),
        "scenario-leak-exposed": scenario_leak(out),
        "scenario-vpn-travel": scenario_vpn(out),
    }
    bad = 0
    for rel, data in sorted(out.items()):
        path = os.path.join(SAMPLES, rel)
        if check:
            try:
                with open(path, "rb") as fh:
                    same = fh.read() == data
            except FileNotFoundError:
                same = False
            if not same:
                print("differs: %s" % rel)
                bad += 1
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
    if check:
        sys.exit(1 if bad else 0)
    for rel, data in sorted(out.items()):
        print("%8d  %s" % (len(data), rel))
    print(json.dumps(facts, indent=1, default=str))


if __name__ == "__main__":
    main()
