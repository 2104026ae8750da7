/** `/v1/users`, `/v1/keys`, `/v1/revocations`: admin operations on users, their keys and the kill switch. */
import { z } from '@hono/zod-openapi';
import * as keys from '../services/keys.js';
import { revoke } from '../services/revocations.js';
import * as users from '../services/users.js';
import type { ServiceDeps } from '../services/deps.js';
import { op, type Api } from './http.js';
import * as s from './schemas.js';

const UserId = z.object({
  user_id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'user_id', in: 'path' } }),
});
const KeyId = z.object({
  key_id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'key_id', in: 'path' } }),
});

export function userRoutes(app: Api, deps: () => ServiceDeps): void {
  const tag = 'identity';
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/users',
      operationId: 'createUser',
      summary: 'Create a user',
      tag,
      body: s.UserCreate,
      response: s.User,
      status: 201,
      idempotent: true,
    },
    (i) => users.createUser(i.deps, i.actor, i.body as s.UserCreateInput, i.idempotencyKey),
  );
  op(
    app,
    deps,
    {
      method: 'get',
      path: '/v1/users',
      operationId: 'listUsers',
      summary: 'List users (filters, cursor pagination)',
      tag,
      query: s.UserListQuery,
      response: s.UserList,
    },
    (i) => users.listUsers(i.deps, i.actor, i.query as s.UserListInput),
  );
  op(app, deps, { method: 'get', path: '/v1/users/{user_id}', operationId: 'getUser', summary: 'Get a user', tag, params: UserId, response: s.User }, (i) =>
    users.getUser(i.deps, i.actor, i.params['user_id']!),
  );
  op(
    app,
    deps,
    {
      method: 'patch',
      path: '/v1/users/{user_id}',
      operationId: 'updateUser',
      summary: 'Update a user (null clears a field)',
      tag,
      params: UserId,
      body: s.UserUpdate,
      response: s.User,
    },
    (i) => users.updateUser(i.deps, i.actor, i.params['user_id']!, i.body as s.UserUpdateInput),
  );
  op(
    app,
    deps,
    {
      method: 'delete',
      path: '/v1/users/{user_id}',
      operationId: 'deleteUser',
      summary: 'Revoke every credential of a user, then soft-delete it',
      tag,
      params: UserId,
      response: s.User,
    },
    (i) => users.deleteUser(i.deps, i.actor, i.params['user_id']!),
  );
}

/** `/v1/users/{user_id}/keys`, `/v1/keys/{key_id}`, `/v1/revocations`. */
export function keyRoutes(app: Api, deps: () => ServiceDeps): void {
  const tag = 'identity';
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/users/{user_id}/keys',
      operationId: 'createApiKey',
      summary: 'Create an API key (returned once)',
      tag,
      params: UserId,
      body: s.KeyCreate,
      response: s.ApiKeyCreated,
      status: 201,
      idempotent: true,
    },
    (i) => keys.createKey(i.deps, i.actor, i.params['user_id']!, i.body as s.KeyCreateInput, i.idempotencyKey),
  );
  op(
    app,
    deps,
    {
      method: 'get',
      path: '/v1/users/{user_id}/keys',
      operationId: 'listApiKeys',
      summary: "List a user's API keys",
      tag,
      params: UserId,
      response: s.ApiKeyList,
    },
    (i) => keys.listKeys(i.deps, i.actor, i.params['user_id']!),
  );
  op(
    app,
    deps,
    { method: 'get', path: '/v1/keys/{key_id}', operationId: 'getApiKey', summary: 'Get an API key', tag, params: KeyId, response: s.ApiKey },
    (i) => keys.getKey(i.deps, i.actor, i.params['key_id']!),
  );
  op(
    app,
    deps,
    {
      method: 'delete',
      path: '/v1/keys/{key_id}',
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key (closes its WebSockets)',
      tag,
      params: KeyId,
      response: s.ApiKey,
    },
    (i) => keys.revokeKey(i.deps, i.actor, i.params['key_id']!),
  );
  op(
    app,
    deps,
    {
      method: 'post',
      path: '/v1/revocations',
      operationId: 'createRevocation',
      summary: 'Kill switch: revoke a user, session or key everywhere',
      tag,
      body: s.RevocationCreate,
      response: s.Revocation,
      status: 201,
    },
    (i) => revoke(i.deps, i.actor, i.body as s.RevocationInput),
  );
}
