/**
 * rococo: class controllers declared with decorators, on Node's http server, in the spirit of
 * aiohttp.web. Everything a user needs is exported here; test helpers are in `rococo/testing`.
 */
import 'reflect-metadata';

export { createApp, Application } from './core/application';
export type {
  AppOptions,
  Hook,
  RequestHook,
  SendHook,
  ResponseHook,
  LogFields,
  Settings,
  RouteInfo,
} from './core/application';
export type { RouteParams, RouteName, UrlArguments } from './core/application';
export type { Router, Route as RouteEntry, RouteMatch } from './core/router';
export type { TrustProxy } from './core/proxy';
export type { HandlerMeta, RouteMeta } from './core/metadata';
export { Request } from './core/request';
export type { MatchedRoute } from './core/request';
export { Response, json, text, html, redirect, writeRawResponse } from './core/response';
export type { ResponseBody, ResponseInit, CookieOptions } from './core/response';
export type { Middleware, Endpoint } from './core/middleware';
export { metaKey, recordOnHandler } from './core/plugin';
export type { Plugin, RouteBuild, UpgradeHandler } from './core/plugin';
export type { QueryInit } from './core/router';
export { intConverter } from './core/converters';
export type { Converter, IntConverterOptions } from './core/converters';
export type { RouteConditions } from './core/conditions';
export type { ExpectHandler } from './core/metadata';
export { SETTINGS } from './core/container';
export { providedByPlugin } from './core/provided';
export type { Constructor, Provider } from './core/container';
export { immutableSettings, settingsFromEnv, toBool } from './core/settings';
export type { DeepReadonly, SettingsFromEnvOptions } from './core/settings';
export * from './core/errors';
export { database } from './database/plugin';
export { Database, NoRowsError, TooManyRowsError } from './database/database';
export type { DatabaseOptions } from './database/database';
export { OutageLog } from './core/outage-log';
export type { OutageLogOptions } from './core/outage-log';
export { sql, SqlQuery } from './database/sql';
export { migrate } from './database/migrations';
export { ViewContext } from './core/view-context';
export type { ContextProcessor } from './core/view-context';
export { checkOptions, readSetting } from './core/options';
export { templates } from './templates/plugin';
export { Templates, render } from './templates/templates';
export type { TemplatesOptions } from './templates/templates';
export type { TemplateMeta } from './decorators/template';
export { staticFiles } from './static/plugin';
export { FileResponse, StaticFiles } from './static/files';
export type { StaticOptions } from './static/files';

export { Session } from './sessions/param';
/** The session class, for a `SessionStorage` of your own that builds sessions (`new SessionData(data)`). */
export { Session as SessionData } from './sessions/session';
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
export { websockets } from './websocket/plugin';
export type { WebSocketHandler } from './websocket/server';
export type { WebSocketOptions } from './decorators/websocket';
export { hub } from './websocket/hub-plugin';
export { Hub } from './websocket/hub';
export type { HubOptions, HubListener, HubSubscription } from './websocket/hub';

export { Controller } from './decorators/controller';
export type { ControllerOptions } from './decorators/controller';
export { Route, Get, Post, Put, Patch, Delete, Head, Options } from './decorators/route';
export type { RouteOptions } from './decorators/route';
export { Param, Query, Header, Body, Req, createParamDecorator } from './decorators/params';
export type { ParamOptions } from './decorators/params';
export type { RouteParam } from './core/params';
export type { ParamMeta, ParamSource } from './core/metadata';
export { Use } from './decorators/use';
export { Injectable } from './decorators/injectable';
export { Template } from './decorators/template';
export { CsrfExempt } from './decorators/csrf-exempt';
export { WebSocket } from './decorators/websocket';
export { Schema } from './decorators/schema';
export { schemas } from './schemas/plugin';
export { flatten as flattenErrors, serialize } from './schemas/schema';
export type { FieldError } from './schemas/schema';
export type { SchemaOptions } from './decorators/schema';
export { Doc } from './decorators/doc';
export { JSONSchema } from './decorators/json-schema';
export { openapi } from './openapi/plugin';
export type { OpenAPIOptions, OperationDoc, OperationDocSource } from './openapi/document';
export type { DocOptions, SecurityRequirements } from './decorators/doc';
/** Injects a token rather than the parameter's type: `@inject(SETTINGS) settings: AppSettings`. */
export { inject } from 'tsyringe';

// Rate limits (issue 17): the rateLimit() plugin and @RateLimit.
export { rateLimit } from './rate-limit/plugin';
export type { RateLimitPluginOptions } from './rate-limit/plugin';
export type { RedisDown } from './rate-limit/counters';
export { RateLimit } from './decorators/rate-limit';
export type { RateLimitOptions, RateLimitKey } from './decorators/rate-limit';

// Security headers (helmet's, with a CSP nonce per page that asks for one)
export { securityHeaders } from './security-headers/plugin';
export { cspNonce } from './security-headers/nonce';
export { SecurityHeaders } from './decorators/security-headers';
export type { SecurityHeadersMeta } from './decorators/security-headers';
export type {
  SecurityHeadersOptions,
  StrictTransportSecurityOptions,
  ReferrerPolicyToken,
} from './security-headers/options';
export type { ContentSecurityPolicyOptions, DirectiveValue } from './security-headers/csp';
export { DEFAULT_DIRECTIVES as DEFAULT_CSP_DIRECTIVES } from './security-headers/csp';

// Compression (issue 17): brotli/gzip responses; request bodies are decoded by the kernel.
export { compression } from './compression/plugin';
export type { CompressionOptions } from './compression/compressor';
export type { Encoding as CompressionEncoding } from './compression/encoders';

// CORS: the cors() plugin, @Cors, and the app's trusted origins (app.origins) it adds to
export { TrustedOrigins } from './core/origins';
export type { OriginCheck } from './core/origins';
export { recordOnController } from './core/plugin';
export { cors } from './cors/plugin';
export { Cors } from './decorators/cors';
export type { CorsOptions, CorsOrigins } from './decorators/cors';

// Tracing (issue 18): OpenTelemetry spans for requests, queries and renders
export { tracing } from './tracing/plugin';
export type { TracingOptions } from './tracing/plugin';
// Health probes (issue 18): the health() plugin (/healthz, /readyz), app.health, redisCheck
export { health } from './health/plugin';
export type { HealthOptions } from './health/plugin';
export { Health } from './health/health';
export type { CheckStatus, HealthCheck, HealthCheckFunction, HealthReport } from './health/health';
export { redisCheck } from './health/redis';
export type { RedisCheckOptions } from './health/redis';
// Metrics (issue 18): Prometheus metrics with prom-client, one registry per app (app.metrics)
export { metrics, NO_ROUTE as METRICS_NO_ROUTE } from './metrics/plugin';
export type { MetricsOptions } from './metrics/plugin';
export { setMetricsAggregator } from './metrics/aggregator';
export type { MetricsAggregator } from './metrics/aggregator';
// Route serializers (issue 20): a plugin's JSON writer for a route's fast path (RouteBuild.serialize)
export type { RouteSerializer } from './core/plugin';
