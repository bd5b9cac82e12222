import { runtimeConformance } from './runtime-conformance.js';

runtimeConformance({ name: 'embedded (memory broker + memory backend)', brokerUrl: 'memory://', backendUrl: 'memory://', available: async () => true });
