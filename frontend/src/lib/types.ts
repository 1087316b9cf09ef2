import type { components } from './openapi';

export interface Me {
  id: string | number;
  name: string;
  role: 'admin' | 'manager' | 'reviewer' | 'annotator' | string;
  kind?: string;
  skills?: string[];
}
export interface Opt {
  value: string;
  text: string;
}
export interface FieldSpec {
  name: string;
  type: string;
  title?: string | null;
  required?: boolean;
  sensitive?: boolean;
}
export interface QuestionSpec {
  name: string;
  type: string;
  title?: string | null;
  description?: string | null;
  required?: boolean;
  field?: string | null;
  options?: (string | Opt)[];
  labels?: (string | Opt)[];
  verdicts?: (string | Opt)[];
  scale?: number | null;
  min?: number | null;
  max?: number | null;
  anchors?: Record<string, string> | null;
  integer?: boolean;
  ties?: boolean;
  strength?: boolean;
  max_length?: number | null;
  keypoint_names?: string[] | null;
  transcript?: boolean;
  sensitive?: boolean;
}
export interface Schema {
  name?: string;
  fields: FieldSpec[];
  questions: QuestionSpec[];
  workflow?: any;
  guidelines?: string | null;
  content_warning?: string | null;
}
export interface Suggestion {
  question: string;
  value: any;
  score?: number | null;
  model?: string | null;
}
export interface RecordData {
  id: string | number;
  external_id?: string;
  fields: Record<string, any>;
  metadata?: any;
  suggestions?: Suggestion[];
}
export interface NextResponse {
  assignment_id: string | number;
  record: RecordData;
  lease_expires_at?: string;
  view?: any;
  draft?: Record<string, any> | null;
  reference_diff?: Record<string, any>;
}

// The API's answers, generated from its OpenAPI document (scripts/api-types; docs/api.md).
type S = components['schemas'];
export type Project = S['Project'];
export type ProjectPage = S['ProjectPage'];
export type MyStats = S['MyStats'];
export type ProjectStats = S['ProjectStats'];
export type Contributor = S['Contributor'];
export type ContributorList = S['ContributorList'];
export type RecordRow = S['Record'];
export type RecordPage = S['RecordPage'];
export type RecordDetail = S['RecordDetail'];
export type Event = S['Event'];
export type EventList = S['EventList'];
export type ImportReport = S['ImportReport'];
export type Job = S['Job'];
export type JobPage = S['JobPage'];
export type Leaderboard = S['Leaderboard'];
export type AgentStats = S['AgentStats'];
export type Savings = S['Savings'];
export type Trust = S['Trust'];
export type ReviewItem = S['ReviewItem'];
export type ReviewItemPage = S['ReviewItemPage'];
export type Decision = S['Decision'];
export type Lease = S['Lease'];
export type Submitted = S['Submitted'];
export type Saved = S['Saved'];
export type Login = S['Login'];
export type MeAnswer = S['Me'];
export type MyExposure = S['MyExposure'];
export type DatasetVersion = S['DatasetVersion'];
export type DatasetVersionList = S['DatasetVersionList'];
export type SavedMedia = S['SavedMedia'];
/** A project's schema as the API sends it (free JSON there), read as the schema format it is. */
export const schemaOf = (p: Project): Schema => p.schema as unknown as Schema;
