import type { ShapeRule } from '../types';

export const microsoftRules: Record<string, ShapeRule> = {};
