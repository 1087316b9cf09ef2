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
