/**
 * rococo: class controllers declared with decorators, on Node's http server, in the spirit of
 * aiohttp.web. Everything a user needs is exported here; test helpers are in `rococo/testing`.
 */
import 'reflect-metadata';

export { createApp, Application } from './core/application';
export type { AppOptions, Hook, Settings } from './core/application';
export { Request } from './core/request';
export type { MatchedRoute } from './core/request';
export { Response, json, text, html, redirect } from './core/response';
export type { ResponseBody, ResponseInit, CookieOptions } from './core/response';
export type { Middleware } from './core/middleware';
export type { QueryInit } from './core/router';
export type { RouteConditions } from './core/conditions';
export type { ExpectHandler } from './core/metadata';
export { SETTINGS } from './core/container';
export type { Constructor, Provider } from './core/container';
export { immutableSettings, settingsFromEnv, toBool } from './core/settings';
export type { DeepReadonly, SettingsFromEnvOptions } from './core/settings';
export * from './core/errors';
export { Database, NoRowsError, TooManyRowsError } from './core/database';
export type { DatabaseOptions } from './core/database';
export { OutageLog } from './core/outage-log';
export type { OutageLogOptions } from './core/outage-log';
export { sql, SqlQuery } from './core/sql';
export { migrate } from './core/migrations';
export { Templates, render } from './core/templates';
export type { ContextProcessor, TemplatesOptions } from './core/templates';
export { FileResponse, StaticFiles } from './core/static';
export type { StaticOptions } from './core/static';

export { Session } from './sessions/session';
export { SessionStorage } from './sessions/storage';
export type { SessionCookieOptions } from './sessions/storage';
export { EncryptedCookieStorage } from './sessions/cookie-storage';
export type { EncryptedCookieOptions } from './sessions/cookie-storage';
export { RedisStorage } from './sessions/redis-storage';
export type { RedisStorageOptions } from './sessions/redis-storage';
export type { SessionKeys } from './sessions/keys';
export { sessions, getSession, newSession } from './sessions/middleware';
export { flash, flashedMessages } from './sessions/flash';
export type { FlashMessage } from './sessions/flash';
export { csrf, csrfToken } from './sessions/csrf';
export type { CsrfOptions } from './sessions/csrf';

export { WebSocketConnection, WebSocketMessage } from './websocket/connection';
export type { CloseInfo } from './websocket/connection';
export type { WebSocketOptions, WebSocketHandler } from './websocket/server';
export { Hub } from './websocket/hub';
export type { HubOptions, HubListener } from './websocket/hub';

export { Controller } from './decorators/controller';
export type { ControllerOptions } from './decorators/controller';
export { Route, Get, Post, Put, Patch, Delete, Head, Options } from './decorators/route';
export type { RouteOptions } from './decorators/route';
export { Use } from './decorators/use';
export { Injectable } from './decorators/injectable';
export { Template } from './decorators/template';
export { CsrfExempt } from './decorators/csrf-exempt';
export { WebSocket } from './decorators/websocket';
export { Schema } from './decorators/schema';
export { flatten as flattenErrors, serialize } from './core/schema';
export type { SchemaOptions, FieldError } from './core/schema';
export { Doc } from './decorators/doc';
export type { DocOptions, OpenAPIOptions } from './core/openapi';
/** Injects a token rather than the parameter's type: `@inject(SETTINGS) settings: AppSettings`. */
export { inject } from 'tsyringe';
