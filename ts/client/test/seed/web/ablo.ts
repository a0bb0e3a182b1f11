// web/ablo.ts
import Ablo from '@ablo/client';
import { schema } from './ablo.schema.js';

export const ablo = Ablo({
  schema,
  apiKey: process.env.ABLO_API_KEY,
});
