import { MemoryTransports } from '../../lab/queue/index.js';
import { runtimeConformance } from './runtime-conformance.js';

runtimeConformance({ name: 'embedded (memory broker + memory backend)', brokerUrl: 'memory://', backendUrl: 'memory://', memory: new MemoryTransports(), available: async () => true });
