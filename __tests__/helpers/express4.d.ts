// Types for the Express 4 copy installed under the alias `express4` (the same API as `express`).
declare module 'express4' {
  import express = require('express');
  export = express;
}
