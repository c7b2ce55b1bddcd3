import type { ShapeRule } from '../types';

export const signalRules: Record<string, ShapeRule> = {};
