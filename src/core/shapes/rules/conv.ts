import type { ShapeRule } from '../types';

export const convRules: Record<string, ShapeRule> = {};
