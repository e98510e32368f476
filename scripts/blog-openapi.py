#!/usr/bin/env python3
"""Regenerates daemon/src/http/blog/openapi.json, the document the blog API
serves at /api/openapi.json: the RealWorld spec (shared/specs/openapi.yml,
see docs/BLOG.md) plus what agora's implementation adds.

    scripts/blog-openapi.py [SPEC] > daemon/src/http/blog/openapi.json

SPEC defaults to ../shared/specs/openapi.yml (beside the repository).
Needs python3 with PyYAML (Debian: python3-yaml). The output is committed;
a unit test checks it covers every route the router serves.
"""

import copy
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
spec_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "specs", "openapi.yml")
with open(spec_path) as f:
    doc = yaml.safe_load(f)

doc["info"]["title"] = "agora blog API (RealWorld Conduit)"
doc["info"]["description"] = (
    "The RealWorld Conduit API as agora serves it, with its extensions: "
    "nested comments (parentId on create, ?nested=true for the tree with replies), "
    "keyset pagination (?cursor= with nextCursor), tags on article update, "
    "Idempotency-Key on POSTs, per-IP and per-user rate limits (429 with Retry-After; "
    "RateLimit-Limit/Remaining/Reset on every response), and errors keyed by field. "
    "Accounts are agora's: a token from `agora login` works here (Token or Bearer)."
)
doc["servers"] = [{"url": "/api"}]

comp = doc["components"]
schemas = comp["schemas"]
responses = comp["responses"]
params = comp["parameters"]

# Errors: {"errors": {"field": ["message", ...]}}.
schemas["GenericErrorModel"] = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }
    },
}
error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/GenericErrorModel"}}}

# Rate-limit headers on every response.
comp["headers"] = {
    "RateLimit-Limit": {
        "description": "The size of the tighter bucket (requests allowed at once).",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in that bucket now.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until that bucket is full again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "Retry-After": {
        "description": "Seconds until a request would be allowed.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
}
rate_headers = {h: {"$ref": f"#/components/headers/{h}"} for h in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]}

responses["Unauthorized"] = {"description": "Missing, invalid or expired token (or wrong email or password)", "content": error_content}
responses["GenericError"] = {"description": "Invalid input", "content": error_content}
responses["Forbidden"] = {"description": "Someone else's article or comment", "content": error_content}
responses["NotFound"] = {"description": "No such article, profile, comment or path", "content": error_content}
responses["TooLarge"] = {"description": "Request body over the limit", "content": error_content}
responses["Conflict"] = {"description": "A request with the same Idempotency-Key was answered concurrently; retry", "content": error_content}
responses["TooManyRequests"] = {
    "description": "Rate limited",
    "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
    "content": error_content,
}
responses["OpenApiResponse"] = {
    "description": "This document",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
for r in responses.values():
    r.setdefault("headers", {}).update(rate_headers)

# Comments: parentId and deleted; trees with replies.
profile_or_null = {"anyOf": [{"$ref": "#/components/schemas/Profile"}, {"type": "null"}]}
schemas["Comment"]["properties"]["parentId"] = {"type": ["integer", "null"], "description": "The comment this one answers (extension)."}
schemas["Comment"]["properties"]["deleted"] = {"type": "boolean", "description": "Always false in flat lists (extension)."}
schemas["Comment"]["required"] += ["parentId", "deleted"]
node = copy.deepcopy(schemas["Comment"])
node["description"] = "A comment in a tree (?nested=true): a deleted one that still has replies has body \"[deleted]\", author null and deleted true."
node["properties"]["author"] = profile_or_null
node["properties"]["replies"] = {"type": "array", "items": {"$ref": "#/components/schemas/CommentNode"}}
node["required"] = node["required"] + ["replies"]
schemas["CommentNode"] = node
responses["MultipleCommentsResponse"]["content"]["application/json"]["schema"]["properties"]["comments"]["items"] = {
    "anyOf": [{"$ref": "#/components/schemas/Comment"}, {"$ref": "#/components/schemas/CommentNode"}]
}
schemas["NewComment"]["properties"]["parentId"] = {"type": ["integer", "null"], "description": "Reply to this comment of the same article (extension)."}

# Lists: nextCursor.
responses["MultipleArticlesResponse"]["content"]["application/json"]["schema"]["properties"]["nextCursor"] = {
    "type": ["string", "null"],
    "description": "Pass as ?cursor= for the next page; null on the last (extension).",
}
# Tags on update; bio and image may be cleared with null.
schemas["UpdateArticle"]["properties"]["tagList"] = {"type": "array", "items": {"type": "string"}}
for field in ["bio", "image"]:
    schemas["UpdateUser"]["properties"][field] = {"type": ["string", "null"]}

# Parameters.
params["limitParam"]["schema"]["maximum"] = 100
params["cursorParam"] = {
    "in": "query",
    "name": "cursor",
    "required": False,
    "schema": {"type": "string"},
    "description": "Continue after the page whose nextCursor this is (not with offset; extension).",
}
params["nestedParam"] = {
    "in": "query",
    "name": "nested",
    "required": False,
    "schema": {"type": "boolean"},
    "description": "Return comments as a tree with replies (extension).",
}
params["idempotencyKey"] = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": "Retries with the same key get the first success back (extension; signed-in POSTs).",
}

def ref(name):
    return {"$ref": f"#/components/responses/{name}"}

paths = doc["paths"]
for path, ops in paths.items():
    for method, op in ops.items():
        rs = op["responses"]
        rs.setdefault("429", ref("TooManyRequests"))
        if "{" in path or op.get("security"):
            rs.setdefault("404", ref("NotFound"))
        if op.get("security"):
            rs.setdefault("401", ref("Unauthorized"))
        if "requestBody" in op:
            rs.setdefault("413", ref("TooLarge"))
            rs.setdefault("422", ref("GenericError"))
        if method == "post":
            op.setdefault("parameters", []).append({"$ref": "#/components/parameters/idempotencyKey"})
        if method in ("put", "delete") and path in ("/articles/{slug}", "/articles/{slug}/comments/{id}"):
            rs.setdefault("403", ref("Forbidden"))
        if method == "get":
            rs.setdefault("401", ref("Unauthorized"))
            rs.setdefault("422", ref("GenericError"))
paths["/articles"]["post"]["responses"].setdefault("409", ref("Conflict"))
paths["/articles/{slug}/comments"]["post"]["responses"].setdefault("409", ref("Conflict"))
paths["/articles"]["get"]["parameters"].append({"$ref": "#/components/parameters/cursorParam"})
paths["/articles/feed"]["get"]["parameters"].append({"$ref": "#/components/parameters/cursorParam"})
paths["/articles/{slug}/comments"]["get"]["parameters"].append({"$ref": "#/components/parameters/nestedParam"})
paths["/openapi.json"] = {
    "get": {
        "tags": ["Meta"],
        "summary": "This document",
        "operationId": "GetOpenApi",
        "responses": {"200": ref("OpenApiResponse"), "429": ref("TooManyRequests")},
    }
}

# Organizations (docs/BLOG.md, "Organizations"): the /api/orgs and
# /api/invitations routes, every one signed in. The organization's blog
# itself (/t/{org}/api/... or Host: {org}.<base>) is the API above.
c=doc['components']
R=lambda n: {"$ref":"#/components/responses/"+n}
S=lambda n: {"$ref":"#/components/schemas/"+n}
hdrs=c['responses']['NotFound']['headers']
def resp(desc, schema):
    return {"description":desc,"content":{"application/json":{"schema":schema}},"headers":hdrs}
roles=["owner","admin","author","viewer"]
c['schemas']['Org']={"type":"object","required":["slug","name","plan","createdAt","role"],"properties":{
  "slug":{"type":"string"},"name":{"type":"string"},"plan":{"type":"string"},
  "createdAt":{"type":"string","format":"date-time"},
  "role":{"description":"The asker's role; null when not a member","enum":roles+[None]}}}
c['schemas']['Member']={"type":"object","required":["username","role","joinedAt"],"properties":{
  "username":{"type":"string"},"role":{"enum":roles},"joinedAt":{"type":"string","format":"date-time"}}}
c['schemas']['Invitation']={"type":"object","required":["token","org","username","role","expiresAt"],"properties":{
  "token":{"type":"string"},"org":{"type":"string"},"username":{"type":"string"},"role":{"enum":roles},
  "expiresAt":{"type":"string","format":"date-time"}}}
c['responses']['SingleOrgResponse']=resp("An organization",{"type":"object","required":["org"],"properties":{"org":S("Org")}})
c['responses']['MultipleOrgsResponse']=resp("The asker's organizations",{"type":"object","required":["orgs"],"properties":{"orgs":{"type":"array","items":S("Org")}}})
c['responses']['MembersResponse']=resp("An organization's members, by name",{"type":"object","required":["members"],"properties":{"members":{"type":"array","items":S("Member")}}})
c['responses']['InvitationResponse']=resp("The invitation",{"type":"object","required":["invitation"],"properties":{"invitation":S("Invitation")}})
def body(name, inner):
    return {"required":True,"content":{"application/json":{"schema":{"type":"object","required":[name],"properties":{name:inner}}}}}
c['requestBodies']['NewOrgRequest']=body("org",{"type":"object","required":["slug"],"properties":{"slug":{"type":"string"},"name":{"type":"string"}}})
c['requestBodies']['NewInvitationRequest']=body("invitation",{"type":"object","required":["username"],"properties":{"username":{"type":"string"},"role":{"enum":roles}}})
c['requestBodies']['RoleRequest']=body("member",{"type":"object","required":["role"],"properties":{"role":{"enum":roles}}})
c['requestBodies']['TransferRequest']=body("member",{"type":"object","required":["username"],"properties":{"username":{"type":"string"}}})
def param(name, desc):
    return {"name":name,"in":"path","description":desc,"required":True,"schema":{"type":"string"}}
slug=param("slug","The organization's slug (its subdomain)")
user=param("username","A member's user name")
tok=param("token","The invitation's token")
def op(opid, summary, ok, params=(), body=None, extra=()):
    o={"tags":["Organizations"],"summary":summary,"operationId":opid,"parameters":list(params),
       "responses":dict(ok),"security":[{"Token":[]}]}
    for code,name in [("401","Unauthorized"),("403","Forbidden"),("404","NotFound"),("422","GenericError"),("429","TooManyRequests")]+list(extra):
        o["responses"].setdefault(code,R(name))
    if body:
        o["requestBody"]={"$ref":"#/components/requestBodies/"+body}
        o["responses"]["413"]=R("TooLarge")
    return o
P=doc['paths']
P['/orgs']={"get":op("ListMyOrgs","The organizations the signed-in user belongs to, with their role",{"200":R("MultipleOrgsResponse")}),
            "post":op("CreateOrg","Create an organization; the creator is its owner",{"201":R("SingleOrgResponse")},body="NewOrgRequest")}
P['/orgs/{slug}']={"get":op("GetOrg","An organization",{"200":R("SingleOrgResponse")},[slug]),
    "delete":op("DeleteOrg","Delete an organization (owner); ?confirm= must be its slug. Its file is removed after the grace period",{"204":R("EmptyOkResponse")},
        [slug,{"name":"confirm","in":"query","required":False,"description":"The organization's slug, to confirm","schema":{"type":"string"}}])}
P['/orgs/{slug}/restore']={"post":op("RestoreOrg","Bring back a deleted organization before its grace period ends (owner)",{"200":R("SingleOrgResponse")},[slug])}
P['/orgs/{slug}/members']={"get":op("ListMembers","An organization's members (members only)",{"200":R("MembersResponse")},[slug])}
P['/orgs/{slug}/members/{username}']={
    "put":op("SetRole","Change a member's role; the last owner cannot step down",{"200":R("MembersResponse")},[slug,user],body="RoleRequest"),
    "delete":op("RemoveMember","Remove a member; removing yourself is leaving",{"204":R("EmptyOkResponse")},[slug,user])}
P['/orgs/{slug}/invitations']={"post":op("Invite","Invite a user by name (admins, owners); answers the token",{"201":R("InvitationResponse")},[slug],body="NewInvitationRequest")}
P['/orgs/{slug}/transfer']={"post":op("TransferOwnership","Make a member the owner; the asker becomes an admin",{"200":R("MembersResponse")},[slug],body="TransferRequest")}
P['/invitations/{token}/accept']={"post":op("AcceptInvitation","Accept an invitation (its invitee only)",{"200":R("SingleOrgResponse")},[tok])}
P['/invitations/{token}/decline']={"post":op("DeclineInvitation","Decline an invitation (its invitee only); role is null",{"200":R("SingleOrgResponse")},[tok])}
if not any(t['name']=='Organizations' for t in doc['tags']):
    doc['tags'].append({"name":"Organizations","description":"Organizations (multi-tenant blogs), members and invitations; docs/BLOG.md"})
doc["tags"].append({"name": "Meta"})
doc["components"]["securitySchemes"]["Token"]["description"] += (
    "agora also accepts `Bearer xxxxxx.yyyyyyy.zzzzzz`, and tokens from `agora login`.\n"
)

json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
sys.stdout.write("\n")
