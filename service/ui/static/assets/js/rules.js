// From a verdict's effect (tier, policy, direction, rule, peer) to the stored object and the
// path of the rule in it, so the object page can highlight it.

/** {kind, namespace, name} of the policy an effect names. */
export function policyRef(effect) {
  const policy = effect.policy || {};
  const kind = policy.kind || (policy.namespace ? "NetworkPolicy" : effect.tier);
  return { kind, namespace: policy.namespace || null, name: policy.name };
}

/** "spec.ingress[0].from[1]" (NetworkPolicy and the admin tiers share the layout). */
export function rulePath(effect) {
  const direction = effect.direction === "Egress" ? "egress" : "ingress";
  const peers = direction === "egress" ? "to" : "from";
  if (effect.rule === null || effect.rule === undefined) return "spec";
  const base = `spec.${direction}[${effect.rule}]`;
  return effect.peer === null || effect.peer === undefined ? base : `${base}.${peers}[${effect.peer}]`;
}

export function ruleText(effect) {
  const peer = effect.peer === null || effect.peer === undefined ? "any peer" : `peer ${effect.peer}`;
  return `${effect.direction.toLowerCase()} rule ${effect.rule} (${peer})`;
}
