// Jest config of `npm run test:browser`: only the end-to-end tests in __tests__/browser, driving headless Chromium.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__/browser'],
  testMatch: ['**/*.browser.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // Starting Chromium and the demo on a busy 2-core machine can take a while; a real hang still fails.
  testTimeout: 120000,
};
