export * from "./client";
export * from "./useQuoteChat";
export type { components, paths } from "./generated/api";
