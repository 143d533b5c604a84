export { type AssemblerOptions, type AssemblerStats, RequestAssembler } from './request-assembler';
