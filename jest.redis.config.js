// The Redis suite (`npm run test:redis`): each test file starts its own redis-server (Debian's) on a free loopback port.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__/redis'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleNameMapper: {
    '^express-ltiaas-grades$': '<rootDir>/src/index.ts',
    '^express-ltiaas-grades/testing$': '<rootDir>/src/testing/index.ts',
    '^express-ltiaas-grades/redis$': '<rootDir>/src/redis/index.ts',
  },
  testTimeout: 30000,
};
