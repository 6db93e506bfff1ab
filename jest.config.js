// Jest runs the TypeScript sources through swc (types are checked separately by `tsc --noEmit`).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/__tests__/consumers/', '/__tests__/browser/', '/__tests__/redis/'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleNameMapper: {
    '^express-ltiaas-grades$': '<rootDir>/src/index.ts',
    '^express-ltiaas-grades/testing$': '<rootDir>/src/testing/index.ts',
    '^express-ltiaas-grades/redis$': '<rootDir>/src/redis/index.ts',
  },
  testTimeout: 30000,
};
