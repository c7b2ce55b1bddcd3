export { computeLifetimes, liveBytesPerStep } from './liveness';
export type { PlanInput, PlanStep, TensorLifetime } from './liveness';
export { planArena, planMemory } from './arenaPlanner';
export type { ArenaPlan, MemoryPlan } from './arenaPlanner';
